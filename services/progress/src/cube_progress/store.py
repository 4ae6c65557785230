"""Apply events to the status table: the event id is recorded in the same transaction."""

from uuid import UUID

import asyncpg

from cube_contracts import Envelope, LlmUsage, ScenarioRequested, Stage, Status
from cube_progress.projection import ScenarioState, apply
from cube_runtime.db import mark_processed

CONSUMER = "progress"


def _months_total(event: Envelope) -> int:
    for attr in ("months_total",):
        if hasattr(event, attr):
            return int(getattr(event, attr))
    if isinstance(event, ScenarioRequested):
        return event.spec.months
    return 12


async def _load(conn: asyncpg.Connection, sid: UUID) -> ScenarioState | None:
    row = await conn.fetchrow("SELECT * FROM scenario_status WHERE scenario_id = $1 FOR UPDATE", sid)
    if row is None:
        return None
    return ScenarioState(
        status=Status(row["status"]),
        stage=Stage(row["stage"]),
        progress=row["progress"],
        months_total=row["months_total"],
        months_seen=frozenset(row["months_seen"]),
        error_message=row["error_message"],
        event_count=row["event_count"],
        timings=dict(row["timings"]),
        completed_at=row["completed_at"],
        usage=LlmUsage.model_validate(row["usage"]) if row["usage"] else None,
    )


async def project(pool: asyncpg.Pool, event: Envelope) -> bool:
    """Apply one event; False when it was a duplicate."""
    async with pool.acquire() as conn, conn.transaction():
        if not await mark_processed(conn, CONSUMER, event.event_id):
            return False
        sid = event.scenario_id
        before = await _load(conn, sid)
        if before is None:
            # The gateway writes the first row; an event can still overtake it through Kafka.
            await conn.execute(
                "INSERT INTO scenario_status (scenario_id, status, stage, progress, months_total)"
                " VALUES ($1, 'queued', 'queued', 0, $2) ON CONFLICT DO NOTHING",
                sid,
                _months_total(event),
            )
            before = await _load(conn, sid)
            assert before is not None
        after = apply(before, event)
        if after == before:
            return True
        await conn.execute(
            """
            UPDATE scenario_status SET status = $2, stage = $3, progress = $4, stage_message = $5,
                months_done = $6, months_seen = $7, error_message = $8, event_count = $9, timings = $10,
                completed_at = $11, usage = $12, redrives = 0, updated_at = now(), moved_at = now()
            WHERE scenario_id = $1
            """,
            sid,
            after.status.value,
            after.stage.value,
            after.progress,
            after.stage_message,
            after.months_done,
            sorted(after.months_seen),
            after.error_message,
            after.event_count,
            after.timings,
            after.completed_at,
            after.usage.model_dump() if after.usage else None,
        )
    return True
