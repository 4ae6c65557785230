"""Apply events to the status table: the event ids are recorded in the same transaction."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from cube_contracts import Envelope, LlmUsage, ScenarioRequested, Stage, Status
from cube_progress.projection import ScenarioState, apply
from cube_runtime.db import mark_new

CONSUMER = "progress"

# Rows are locked in the order of their ids, so two batches never wait for each other in a circle.
_LOAD = "SELECT * FROM scenario_status WHERE scenario_id = ANY($1::uuid[]) ORDER BY scenario_id FOR UPDATE"
# The gateway writes the first row; an event can still overtake it through Kafka.
_FIRST_ROW = """
INSERT INTO scenario_status (scenario_id, status, stage, progress, months_total)
SELECT sid, 'queued', 'queued', 0, months FROM unnest($1::uuid[], $2::int[]) AS r(sid, months)
ON CONFLICT DO NOTHING
"""
_UPDATE = """
UPDATE scenario_status SET status = $2, stage = $3, progress = $4, stage_message = $5,
    months_done = $6, months_seen = $7, error_message = $8, event_count = $9, timings = $10,
    completed_at = $11, usage = $12, redrives = 0, updated_at = now(), moved_at = now()
WHERE scenario_id = $1
"""


def _months_total(event: Envelope) -> int:
    for attr in ("months_total",):
        if hasattr(event, attr):
            return int(getattr(event, attr))
    if isinstance(event, ScenarioRequested):
        return event.spec.months
    return 12


async def _load(conn: asyncpg.Connection, sids: list[UUID]) -> dict[UUID, ScenarioState]:
    return {
        row["scenario_id"]: ScenarioState(
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
        for row in await conn.fetch(_LOAD, sids)
    }


def _row(sid: UUID, state: ScenarioState) -> tuple[Any, ...]:
    return (
        sid,
        state.status.value,
        state.stage.value,
        state.progress,
        state.stage_message,
        state.months_done,
        sorted(state.months_seen),
        state.error_message,
        state.event_count,
        state.timings,
        state.completed_at,
        state.usage.model_dump() if state.usage else None,
    )


async def project_many(pool: asyncpg.Pool, events: Sequence[Envelope]) -> int:
    """Apply a batch of events in one transaction; the number that were not duplicates.

    Each scenario's row is read and written once, its events applied in the order they came.
    """
    unique: dict[UUID, Envelope] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    if not unique:
        return 0
    async with pool.acquire() as conn, conn.transaction():
        new = await mark_new(conn, CONSUMER, list(unique))  # the others are redeliveries
        by_scenario: dict[UUID, list[Envelope]] = {}
        for event in unique.values():
            if event.event_id in new:
                by_scenario.setdefault(event.scenario_id, []).append(event)
        sids = sorted(by_scenario)
        if not sids:
            return 0
        before = await _load(conn, sids)
        missing = [sid for sid in sids if sid not in before]
        if missing:
            await conn.execute(_FIRST_ROW, missing, [_months_total(by_scenario[sid][0]) for sid in missing])
            before |= await _load(conn, missing)
            assert before.keys() >= set(missing)
        changed = []
        for sid in sids:
            after = before[sid]
            for event in by_scenario[sid]:
                after = apply(after, event)
            if after != before[sid]:
                changed.append(_row(sid, after))
        if changed:
            await conn.executemany(_UPDATE, changed)
    return len(new)


async def project(pool: asyncpg.Pool, event: Envelope) -> bool:
    """Apply one event; False when it was a duplicate."""
    return await project_many(pool, [event]) == 1
