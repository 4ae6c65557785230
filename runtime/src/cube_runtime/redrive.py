"""A scenario's remaining work, worked out from what the database holds, and queued again.

The database is the record of what is done: master data and month plans (planning), month
results (months), the validation row (checks and publication). Kafka only carries what is in
between, so whatever a lost message, a crashed process or a restarted broker dropped can be
re-derived here and queued through the outbox. Every step downstream is idempotent, so queuing
work that was merely slow costs time, never correctness.

Used by the reconciler (stuck scenarios), by retry (failed ones) and by cancel.
"""

import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from cube_contracts import (
    MONTH_COMPLETED,
    MONTH_REQUESTED,
    SCENARIO_LIFECYCLE,
    SCENARIO_REQUESTED,
    STAGE_MESSAGES,
    MonthCompleted,
    MonthRequested,
    ScenarioCancelled,
    ScenarioCompleted,
    ScenarioFailed,
    ScenarioRequested,
    ScenarioSpec,
    Stage,
    derived_id,
    month_key,
    scenario_key,
)
from cube_runtime import outbox
from cube_runtime.kafka import month_partition

# A large month plan stays in month_plans and the message says so, which keeps every message
# well under the broker's size limit.
INLINE_PLAN_BYTES = 256 * 1024
STORED_PLAN = "$stored"
# A month's whole plan in SQL: an early plan's `later` (what the full plan added) over it.
WHOLE_PLAN = "plan || coalesce(later, '{}'::jsonb)"
# PostgreSQL channel the planner notifies, with the scenario id, when a scenario's plans are stored.
PLANS_STORED = "cube_month_plans"
# Channel the planner notifies, with the scenario id, when it has stored (or replaced) a scenario's
# master data: month-workers read it then, before the scenario's months are requested.
MASTER_STORED = "cube_master_data"
# Channel a month-worker notifies, with "scenario_id:month:count", when it has stored the first
# `count` events of a month (its numbers) ahead of the rest; the validator reads them meanwhile.
LEDGER_STORED = "cube_month_ledger"
OPEN = ("queued", "processing")


class Conflict(Exception):
    """The scenario is in a state that does not allow the operation; the message says why."""


def month_request(
    sid: UUID, spec: ScenarioSpec, month: int, plan: dict[str, Any], attempt: int, producer: str
) -> MonthRequested:
    """The MonthRequested of a month; the same id for the same attempt, so a re-drive dedupes."""
    inline = len(json.dumps(plan)) <= INLINE_PLAN_BYTES
    return MonthRequested(
        event_id=derived_id(sid, "MonthRequested", attempt, month), scenario_id=sid, producer=producer,
        spec=spec, month=month, months_total=spec.months, plan=plan if inline else {STORED_PLAN: True},
        attempt=attempt,
    )  # fmt: skip


@dataclass
class Snapshot:
    """What the database says about one scenario."""

    scenario_id: UUID
    spec: ScenarioSpec
    status: str
    stage: str
    attempt: int
    redrives: int
    planned: bool
    completed: dict[int, tuple[int, str]] = field(default_factory=dict)  # month -> (events, hash)
    failed: dict[int, str] = field(default_factory=dict)  # month -> reason
    validation: str | None = None
    passed: bool | None = None
    summary: str | None = None
    warnings: int = 0

    @property
    def months_missing(self) -> list[int]:
        return [m for m in range(1, self.spec.months + 1) if m not in self.completed]


async def snapshot(conn: asyncpg.Connection, sid: UUID) -> Snapshot | None:
    row = await conn.fetchrow(
        "SELECT s.spec, st.status, st.stage, st.attempt, st.redrives,"
        " (SELECT count(*) FROM month_plans p WHERE p.scenario_id = s.scenario_id AND p.complete) AS plans,"
        " EXISTS (SELECT 1 FROM master_data m WHERE m.scenario_id = s.scenario_id) AS has_master"
        " FROM scenarios s JOIN scenario_status st USING (scenario_id) WHERE s.scenario_id = $1",
        sid,
    )
    if row is None:
        return None
    spec = ScenarioSpec.model_validate(row["spec"])
    snap = Snapshot(
        sid, spec, row["status"], row["stage"], row["attempt"], row["redrives"],
        planned=row["has_master"] and row["plans"] == spec.months,
    )  # fmt: skip
    for r in await conn.fetch(
        "SELECT month, status, event_count, content_hash, reason FROM month_results WHERE scenario_id = $1",
        sid,
    ):
        if r["status"] == "completed":
            snap.completed[r["month"]] = (r["event_count"], r["content_hash"])
        else:
            snap.failed[r["month"]] = r["reason"] or "failed"
    v = await conn.fetchrow(
        "SELECT state, passed, summary, checks FROM validations WHERE scenario_id = $1", sid
    )
    if v is not None:
        snap.validation, snap.passed, snap.summary = v["state"], v["passed"], v["summary"]
        snap.warnings = sum(1 for c in v["checks"] or [] if not c.get("passed"))
    return snap


@dataclass
class Outgoing:
    topic: str
    key: bytes
    event: BaseModel
    partition: int | None = None
    what: str = ""


async def remaining(conn: asyncpg.Connection, snap: Snapshot, producer: str) -> list[Outgoing]:
    """The messages that move the scenario on from where the database says it is."""
    sid, attempt, key = snap.scenario_id, snap.attempt, scenario_key(snap.scenario_id)
    if snap.validation == "published":
        count = await conn.fetchval("SELECT count(*) FROM business_events WHERE scenario_id = $1", sid)
        done = ScenarioCompleted(
            event_id=derived_id(sid, "ScenarioCompleted", attempt), scenario_id=sid, producer=producer,
            event_count=count, warnings=snap.warnings,
        )  # fmt: skip
        return [Outgoing(SCENARIO_LIFECYCLE, key, done, what="announce completion")]
    if snap.validation == "failed" and snap.passed is False:
        failed = ScenarioFailed(
            event_id=derived_id(sid, "ScenarioFailed", attempt), scenario_id=sid, producer=producer,
            stage=Stage.VALIDATING.value, reason=f"validation failed: {snap.summary}",
        )  # fmt: skip
        return [Outgoing(SCENARIO_LIFECYCLE, key, failed, what="announce the failed validation")]
    if not snap.planned:
        planning = ScenarioRequested(
            event_id=derived_id(sid, "ScenarioRequested", attempt), scenario_id=sid, producer=producer,
            spec=snap.spec, attempt=attempt,
        )  # fmt: skip
        return [Outgoing(SCENARIO_REQUESTED, key, planning, what="plan")]
    missing = snap.months_missing
    if missing:
        plans = {
            r["month"]: r["plan"]
            for r in await conn.fetch(
                f"SELECT month, {WHOLE_PLAN} AS plan FROM month_plans WHERE scenario_id = $1 AND month = ANY($2::int[])",
                sid,
                missing,
            )
        }
        out = []
        for m in missing:
            request = month_request(sid, snap.spec, m, plans[m], attempt, producer)
            out.append(
                Outgoing(MONTH_REQUESTED, month_key(sid, m), request, month_partition(sid, m), f"month {m}")
            )
        return out
    # Every month is in, but no validation finished: announce the last month again, which makes
    # the validator claim the scenario (a claim left by a crash is taken again).
    last = snap.spec.months
    events, digest = snap.completed[last]
    again = MonthCompleted(
        event_id=derived_id(sid, "MonthCompleted", last, attempt, "redrive"), scenario_id=sid, producer=producer,
        month=last, months_total=snap.spec.months, event_count=events, content_hash=digest, duration_ms=0,
    )  # fmt: skip
    return [Outgoing(MONTH_COMPLETED, key, again, what="validate")]


async def enqueue(conn: asyncpg.Connection, work: list[Outgoing]) -> list[str]:
    for item in work:
        await outbox.add(conn, item.topic, item.key, item.event, item.partition)
    return [item.what for item in work]


async def cancel(conn: asyncpg.Connection, sid: UUID, producer: str) -> None:
    """Cancel an open scenario: its status says so at once, and every service skips its work.

    Raises LookupError for an unknown scenario and Conflict for one that has ended."""
    status = await conn.fetchval("SELECT status FROM scenario_status WHERE scenario_id = $1 FOR UPDATE", sid)
    if status is None:
        raise LookupError(sid)
    if status == "cancelled":
        return
    if status not in OPEN:
        raise Conflict(
            f"scenario {sid} has already {status}; only a queued or processing one can be cancelled"
        )
    reason = "cancelled by the user"
    await conn.execute(
        "UPDATE scenario_status SET status = 'cancelled', stage_message = 'Cancelled', error_message = $2,"
        " completed_at = now(), updated_at = now(),"
        " timings = timings || jsonb_build_object('cancelled', to_char(now() AT TIME ZONE 'UTC',"
        ' \'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\')) WHERE scenario_id = $1',
        sid,
        reason,
    )
    event = ScenarioCancelled(
        event_id=derived_id(sid, "ScenarioCancelled"), scenario_id=sid, producer=producer, reason=reason
    )
    await outbox.add(conn, SCENARIO_LIFECYCLE, scenario_key(sid), event)


async def retry(conn: asyncpg.Connection, sid: UUID, producer: str) -> list[str]:
    """Re-run what failed of a failed scenario, reusing everything that succeeded.

    Returns what was queued (e.g. ["month 3", "month 7"]). Raises LookupError for an unknown
    scenario and Conflict when a retry cannot help."""
    await conn.execute("SELECT 1 FROM scenario_status WHERE scenario_id = $1 FOR UPDATE", sid)
    snap = await snapshot(conn, sid)
    if snap is None:
        raise LookupError(sid)
    if snap.status != "failed":
        raise Conflict(f"scenario {sid} is {snap.status}; only a failed scenario can be retried")
    if snap.validation == "failed" and snap.passed is False:
        raise Conflict(
            f"scenario {sid} failed its checks ({snap.summary}); a retry would make the same data:"
            " create a new scenario with another seed or other parameters"
        )
    attempt = snap.attempt + 1
    # Failed months and a validation that ended because of them are forgotten; completed months stay.
    await conn.execute("DELETE FROM month_results WHERE scenario_id = $1 AND status <> 'completed'", sid)
    await conn.execute("DELETE FROM validations WHERE scenario_id = $1 AND state <> 'published'", sid)
    snap.failed.clear()
    if snap.validation != "published":
        snap.validation = None
    snap.attempt = attempt
    stage = Stage(snap.stage)
    await conn.execute(
        "UPDATE scenario_status SET status = 'processing', error_message = NULL, completed_at = NULL,"
        " stage_message = $3, attempt = $2, redrives = 0, updated_at = now(), moved_at = now()"
        " WHERE scenario_id = $1",
        sid,
        attempt,
        STAGE_MESSAGES.get(stage, stage.value),
    )
    return await enqueue(conn, await remaining(conn, snap, producer))


# The statuses of a scenario that has ended: its work is skipped.
ENDED_STATUSES = ("cancelled", "failed", "completed")


async def stopped(conn: asyncpg.Connection | asyncpg.Pool, sid: UUID) -> str | None:
    """'cancelled', 'failed' or 'completed' when the scenario has ended and its work should be
    skipped, 'deleted' when it no longer exists; None while it is open."""
    row = await conn.fetchrow(
        "SELECT st.status FROM scenarios s LEFT JOIN scenario_status st USING (scenario_id)"
        " WHERE s.scenario_id = $1",
        sid,
    )
    if row is None:
        return "deleted"
    return row["status"] if row["status"] in ENDED_STATUSES else None
