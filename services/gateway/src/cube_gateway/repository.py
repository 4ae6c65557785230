"""The gateway's reads and its writes: a scenario with its outbox row; cancel, retry, delete."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from pydantic import BaseModel

from cube_contracts import (
    REFERENCE_FIELDS,
    SCENARIO_REQUESTED,
    STAGE_MESSAGES,
    LlmUsage,
    ScenarioRequested,
    ScenarioSpec,
    Stage,
    scenario_key,
)
from cube_gateway import outbox
from cube_gateway.eta import eta_seconds
from cube_gateway.schemas import ScenarioView, ValidationSummary
from cube_runtime import redrive

VIEW_SQL = """
SELECT s.scenario_id, s.business_type, s.engine, s.seed, s.months, s.spec, s.created_at,
       st.status, st.stage, st.progress, st.stage_message, st.months_done, st.months_total, st.error_message,
       st.event_count, st.timings, st.usage, st.updated_at, st.completed_at,
       v.passed, v.summary, v.checks
FROM scenarios s
JOIN scenario_status st USING (scenario_id)
LEFT JOIN validations v USING (scenario_id)
"""


PRODUCER = "gateway"
# Everything a scenario owns, children first; scenarios last.
OWNED_TABLES = (
    "business_events", "month_results", "validations", "month_plans", "master_data", "scenario_status",
    "scenarios",
)  # fmt: skip


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request."""


def request_hash(body: BaseModel) -> str:
    """Fingerprint of what the client sent; not of the spec, whose default seed is random per call."""
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


async def create(
    pool: asyncpg.Pool, spec: ScenarioSpec, idempotency_key: str | None, digest: str | None = None
) -> tuple[UUID, bool]:
    """Store a scenario, its queued status and its ScenarioRequested in one transaction.

    Returns (scenario_id, created); a known Idempotency-Key returns the earlier scenario."""
    if idempotency_key:
        found = await _by_key(pool, idempotency_key, digest)
        if found:
            return found, False
    sid = uuid4()
    try:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO scenarios (scenario_id, business_type, engine, seed, months, spec, idempotency_key,"
                " request_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                sid, spec.business_type.value, spec.engine.value, spec.seed, spec.months,
                json.loads(spec.model_dump_json()), idempotency_key, digest,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO scenario_status (scenario_id, status, stage, progress, stage_message, months_total)"
                " VALUES ($1, 'queued', 'queued', 0, $2, $3)",
                sid,
                STAGE_MESSAGES[Stage.QUEUED],
                spec.months,
            )
            event = ScenarioRequested(scenario_id=sid, producer=PRODUCER, spec=spec)
            await outbox.add(conn, SCENARIO_REQUESTED, scenario_key(sid), event)
    except asyncpg.UniqueViolationError:
        # Two requests with the same key raced; the other one won.
        found = await _by_key(pool, idempotency_key or "", digest)
        if found is None:
            raise
        return found, False
    return sid, True


async def known_key(pool: asyncpg.Pool, key: str) -> bool:
    """Whether a scenario was created with this Idempotency-Key."""
    return bool(await pool.fetchval("SELECT 1 FROM scenarios WHERE idempotency_key = $1", key))


async def _by_key(pool: asyncpg.Pool, key: str, digest: str | None) -> UUID | None:
    row = await pool.fetchrow(
        "SELECT scenario_id, request_hash FROM scenarios WHERE idempotency_key = $1", key
    )
    if row is None:
        return None
    if row["request_hash"] != digest:
        raise IdempotencyConflict(f"Idempotency-Key {key!r} was already used with a different request")
    return UUID(str(row["scenario_id"]))


def to_view(row: asyncpg.Record) -> ScenarioView:
    spec = row["spec"]
    validation = None
    if row["checks"] is not None:
        checks = row["checks"]
        failed = sum(1 for c in checks if not c["passed"] and c.get("severity", "error") == "error")
        warnings = sum(1 for c in checks if not c["passed"] and c.get("severity") == "warning")
        validation = ValidationSummary(
            passed=row["passed"], summary=row["summary"], checks=len(checks), failed=failed, warnings=warnings
        )
    return ScenarioView(
        scenario_id=row["scenario_id"], business_type=row["business_type"], engine=row["engine"], seed=row["seed"],
        months=row["months"], start_month=spec.get("start_month", ""), scale=spec.get("scale", 1.0),
        name=spec.get("name"), status=row["status"], progress=row["progress"], current_stage=row["stage"],
        stage_message=row["stage_message"], months_done=row["months_done"], months_total=row["months_total"],
        error_message=row["error_message"], created_at=row["created_at"], updated_at=row["updated_at"],
        completed_at=row["completed_at"], event_count=row["event_count"], validation=validation,
        eta_seconds=eta_seconds(
            row["status"], row["progress"], row["months_done"], row["months_total"], row["timings"] or {},
            datetime.now(UTC),
        ),
        usage=LlmUsage.model_validate(row["usage"]) if row["usage"] else None, timings=row["timings"] or {},
    )  # fmt: skip


async def view(pool: asyncpg.Pool, sid: UUID) -> ScenarioView | None:
    row = await pool.fetchrow(VIEW_SQL + " WHERE s.scenario_id = $1", sid)
    return to_view(row) if row else None


async def page(pool: asyncpg.Pool, limit: int, after: tuple[datetime, UUID] | None) -> list[ScenarioView]:
    if after is None:
        rows = await pool.fetch(VIEW_SQL + " ORDER BY s.created_at DESC, s.scenario_id DESC LIMIT $1", limit)
    else:
        rows = await pool.fetch(
            VIEW_SQL + " WHERE (s.created_at, s.scenario_id) < ($2, $3)"
            " ORDER BY s.created_at DESC, s.scenario_id DESC LIMIT $1",
            limit, after[0], after[1],
        )  # fmt: skip
    return [to_view(r) for r in rows]


def event_json(row: asyncpg.Record) -> dict[str, Any]:
    item: dict[str, Any] = {
        "event_id": str(row["event_id"]),
        "scenario_id": str(row["scenario_id"]),
        "month": row["month"],
        "occurred_at": row["occurred_at"].isoformat(),
        "event_type": row["event_type"],
        "amount": None if row["amount"] is None else f"{row['amount']:.2f}",
        "currency": row["currency"],
    }
    for ref in REFERENCE_FIELDS:
        item[ref] = row[ref]
    item["attributes"] = row["attributes"]
    return item


async def events(
    pool: asyncpg.Pool,
    sid: UUID,
    limit: int,
    after: tuple[int, int] | None,
    month: int | None,
    event_type: str | None,
) -> list[asyncpg.Record]:
    clauses: list[str] = ["scenario_id = $1"]
    args: list[Any] = [sid]
    if after is not None:
        args += [after[0], after[1]]
        clauses.append(f"(month, seq) > (${len(args) - 1}, ${len(args)})")
    if month is not None:
        args.append(month)
        clauses.append(f"month = ${len(args)}")
    if event_type is not None:
        args.append(event_type)
        clauses.append(f"event_type = ${len(args)}")
    args.append(limit)
    sql = (
        f"SELECT * FROM business_events WHERE {' AND '.join(clauses)} ORDER BY month, seq LIMIT ${len(args)}"
    )
    return list(await pool.fetch(sql, *args))


async def cancel(pool: asyncpg.Pool, sid: UUID) -> None:
    """Cancel an open scenario (LookupError: unknown; redrive.Conflict: it has ended)."""
    async with pool.acquire() as conn, conn.transaction():
        await redrive.cancel(conn, sid, PRODUCER)


async def retry(pool: asyncpg.Pool, sid: UUID) -> list[str]:
    """Re-run what failed of a failed scenario; returns what was queued, e.g. ["month 3"]."""
    async with pool.acquire() as conn, conn.transaction():
        return await redrive.retry(conn, sid, PRODUCER)


async def delete(pool: asyncpg.Pool, sid: UUID) -> None:
    """Remove a scenario and all its data in one transaction; a running one is cancelled first.

    Raises LookupError for an unknown scenario."""
    async with pool.acquire() as conn, conn.transaction():
        # The row lock orders a delete after a create's commit, and against a concurrent delete.
        if await conn.fetchval("SELECT 1 FROM scenarios WHERE scenario_id = $1 FOR UPDATE", sid) is None:
            raise LookupError(sid)
        status = await conn.fetchval("SELECT status FROM scenario_status WHERE scenario_id = $1", sid)
        if status in redrive.OPEN:
            # ScenarioCancelled leaves through the outbox, so the services stop working on it.
            await redrive.cancel(conn, sid, PRODUCER)
        for table in OWNED_TABLES:
            await conn.execute(f"DELETE FROM {table} WHERE scenario_id = $1", sid)
        # Sent rows only: an unsent one (the ScenarioCancelled above) must still be published.
        # Keys are the scenario id, or "<scenario id>:<month>" for months.
        await conn.execute(
            "DELETE FROM outbox WHERE sent_at IS NOT NULL"
            " AND (key = $1 OR substring(key FROM 1 FOR $2) = $3)",
            scenario_key(sid),
            len(scenario_key(sid)) + 1,
            scenario_key(sid) + b":",
        )
