"""The reconciler: finds scenarios whose stage has stopped moving and moves them on.

Every pass: the topics are created again if the broker lost them (the embedded broker keeps
them in memory only); then, under an advisory lock so one replica works at a time, each open
scenario without progress for the stage deadline is re-driven from what the database holds
(redrive.remaining: planning, the missing months, the validation, or the announcement of its
outcome). A scenario re-driven `limit` times without moving fails with a reason. A scenario whose
messages still wait in the outbox (broker away) is left alone: the relay delivers them.
"""

import contextlib
import logging
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from cube_contracts import SCENARIO_LIFECYCLE, ScenarioFailed, derived_id, scenario_key
from cube_runtime import kafka, outbox, redrive
from cube_runtime.periodic import Periodic
from cube_runtime.settings import ConfigError

log = logging.getLogger("progress.reconciler")
PRODUCER = "reconciler"
LOCK = 0x43554245  # pg advisory lock key of the reconciler
# Which service moves a scenario on from each stage.
SERVICE_OF = {
    "queued": "planner", "starting": "planner", "stage1_generating": "planner", "stage2_trends": "planner",
    "stage3_months": "month-worker", "storing": "validator", "validating": "validator",
}  # fmt: skip
# While other scenarios of its stage move, a scenario is waiting its turn, up to this many deadlines.
STARVED_FACTOR = 3
# With no live process of the service, a scenario waits this many deadlines before it fails.
ABSENT_FACTOR = 10
# However short the deadline, a scenario is not failed before this many seconds without moving:
# a consumer group takes its session timeout and a rejoin to hand a dead member's partitions on.
GIVE_UP_AFTER = 60.0
# A process counts as live with a heartbeat this recent and its consumers assigned.
LIVE_SECONDS = 15.0


async def _live_services(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT service, count(*) AS n FROM service_instances WHERE assigned_at IS NOT NULL"
        " AND heartbeat_at > now() - make_interval(secs => $1) GROUP BY service",
        LIVE_SECONDS,
    )
    return {r["service"]: int(r["n"]) for r in rows}


async def _stage_moving(conn: asyncpg.Connection, sid: UUID, stage: str, deadline: float) -> bool:
    """Another scenario of the same service moved within the deadline: its queue is being worked."""
    service = SERVICE_OF.get(stage, "planner")
    stages = [s for s, owner in SERVICE_OF.items() if owner == service]
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM scenario_status WHERE status = 'processing' AND stage = ANY($2::text[])"
            " AND moved_at > now() - make_interval(secs => $3) AND scenario_id <> $1 LIMIT 1",
            sid,
            stages,
            deadline,
        )
    )


@dataclass
class Pass:
    """What one pass did."""

    redriven: dict[UUID, list[str]] = field(default_factory=dict)
    failed: list[UUID] = field(default_factory=list)
    waiting: int = 0
    topics_created: list[str] = field(default_factory=list)


class Reconciler(Periodic):
    name = "reconciler"

    def __init__(
        self,
        pool: asyncpg.Pool,
        bootstrap: str,
        interval: float,
        deadline: float,
        limit: int,
        llm_deadline: float | None = None,
    ) -> None:
        self.pool, self.bootstrap = pool, bootstrap
        self.interval, self.deadline, self.limit = interval, deadline, limit
        # An engine that waits on an LLM has stages of a minute or more: its deadline is its own.
        self.llm_deadline = llm_deadline if llm_deadline is not None else deadline

    async def tick(self) -> None:
        done = await self.run_once()
        if done.redriven or done.failed or done.topics_created:
            log.info(
                "reconciler pass",
                extra={
                    "redriven": {str(k): v for k, v in done.redriven.items()},
                    "failed": [str(s) for s in done.failed],
                    "topics_created": done.topics_created,
                },
            )

    async def run_once(self) -> Pass:
        done = Pass()
        with contextlib.suppress(ConfigError):
            done.topics_created = await kafka.ensure_topics(self.bootstrap, timeout=5)
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", LOCK):
                return done
            rows = await conn.fetch(
                "SELECT st.scenario_id, st.stage, st.redrives, extract(epoch FROM now() - st.moved_at) AS idle,"
                " s.engine = 'claude' AS llm"
                " FROM scenario_status st JOIN scenarios s USING (scenario_id)"
                " WHERE st.status IN ('queued', 'processing') AND st.updated_at < now() - make_interval(secs =>"
                " CASE WHEN s.engine = 'claude' THEN $2::float8 ELSE $1::float8 END)"
                " ORDER BY st.updated_at LIMIT 200 FOR UPDATE OF st SKIP LOCKED",
                self.deadline,
                self.llm_deadline,
            )
            if not rows:
                return done
            live = await _live_services(conn)
            for row in rows:
                sid, stage, idle = row["scenario_id"], row["stage"], float(row["idle"])
                deadline = self.llm_deadline if row["llm"] else self.deadline
                if await conn.fetchval(
                    "SELECT 1 FROM outbox WHERE sent_at IS NULL AND headers->>'scenario_id' = $1 LIMIT 1",
                    str(sid),
                ):
                    done.waiting += 1  # its messages wait for the broker; the relay delivers them
                    continue
                service = SERVICE_OF.get(stage, "planner")
                if not live.get(service):
                    # Nobody can take the work now (a process restarting, a group rebalancing):
                    # re-driving would only queue more of it. Fail only after a long absence.
                    if idle > ABSENT_FACTOR * deadline:
                        await self._fail(conn, sid, stage, self._absent(service, idle))
                        done.failed.append(sid)
                    else:
                        done.waiting += 1
                    continue
                if idle < STARVED_FACTOR * deadline and await _stage_moving(conn, sid, stage, deadline):
                    done.waiting += 1  # a queue that moves: its turn comes
                    continue
                if row["redrives"] >= self.limit and idle >= max((self.limit + 1) * deadline, GIVE_UP_AFTER):
                    await self._fail(conn, sid, stage, self._stuck(stage, row["redrives"], deadline))
                    done.failed.append(sid)
                    continue
                snap = await redrive.snapshot(conn, sid)
                if snap is None:  # a status row without its scenario: nothing to drive
                    continue
                done.redriven[sid] = await redrive.enqueue(
                    conn, await redrive.remaining(conn, snap, PRODUCER)
                )
                await conn.execute(
                    "UPDATE scenario_status SET redrives = redrives + 1, updated_at = now() WHERE scenario_id = $1",
                    sid,
                )
        return done

    def _stuck(self, stage: str, redrives: int, deadline: float) -> str:
        return (
            f"the {stage} stage made no progress for {deadline:.0f} s, and {redrives} re-drive(s) did not"
            " move it; check that every service runs (GET /api/pipeline), then POST /api/scenarios/{id}/retry"
        )

    def _absent(self, service: str, idle: float) -> str:
        return (
            f"no {service} process has taken work for {idle:.0f} s; start one (GET /api/pipeline shows"
            " what runs), then POST /api/scenarios/{id}/retry"
        )

    async def _fail(self, conn: asyncpg.Connection, sid: UUID, stage: str, why: str) -> None:
        reason = why.replace("{id}", str(sid))
        attempt = await conn.fetchval("SELECT attempt FROM scenario_status WHERE scenario_id = $1", sid)
        await conn.execute(
            "UPDATE scenario_status SET status = 'failed', error_message = $2, stage_message = $3,"
            " completed_at = now(), updated_at = now() WHERE scenario_id = $1",
            sid,
            reason,
            f"Failed: {reason}",
        )
        failed = ScenarioFailed(
            event_id=derived_id(sid, "ScenarioFailed", "deadline", attempt), scenario_id=sid, producer=PRODUCER,
            stage=stage, reason=reason,
        )  # fmt: skip
        await outbox.add(conn, SCENARIO_LIFECYCLE, scenario_key(sid), failed)
        log.warning("scenario failed by the reconciler", extra={"scenario_id": str(sid), "reason": reason})
