"""The projection on the real database: the event id is recorded with the update, so replays are no-ops."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from cube_contracts import (
    STAGE_MESSAGES,
    Envelope,
    LlmUsage,
    MasterDataGenerated,
    MonthCompleted,
    PlanningStarted,
    Stage,
    TrendsGenerated,
    ValidationStarted,
)
from cube_progress.store import project, project_many

pytestmark = pytest.mark.connected


async def test_replayed_event_is_applied_once(pool: asyncpg.Pool) -> None:
    sid = uuid4()
    started = PlanningStarted(scenario_id=sid, producer="t", months_total=2)
    assert await project(pool, started) is True
    assert await project(pool, started) is False
    done = MonthCompleted(
        scenario_id=sid, producer="t", month=1, months_total=2, event_count=1, content_hash="h", duration_ms=1
    )
    assert await project(pool, done) is True
    assert await project(pool, done) is False
    row = await pool.fetchrow("SELECT * FROM scenario_status WHERE scenario_id = $1", sid)
    assert (row["status"], row["stage"], row["months_done"], row["progress"]) == (
        "processing",
        "stage3_months",
        1,
        65,
    )


def _story(a: UUID, b: UUID) -> tuple[Envelope, list[Envelope]]:
    """An event of `a` applied earlier, then a batch that interleaves `a` and `b`, replays the
    earlier event and carries one of `b`'s twice. `b` has no row yet and starts with a month."""
    at = datetime(2025, 3, 1, tzinfo=UTC)
    usage = LlmUsage(calls=1, input_tokens=10, output_tokens=5, cost_usd=0.01, latency_ms=40)

    def month(sid: UUID, m: int, total: int, second: int) -> MonthCompleted:
        return MonthCompleted(
            scenario_id=sid, producer="t", month=m, months_total=total, event_count=10 * m,
            content_hash="h", duration_ms=1, usage=usage, occurred_at=at + timedelta(seconds=second),
        )  # fmt: skip

    earlier = PlanningStarted(scenario_id=a, producer="t", months_total=2, occurred_at=at)
    b_first = month(b, 1, 3, 5)
    batch: list[Envelope] = [
        b_first,
        MasterDataGenerated(scenario_id=a, producer="t", duration_ms=1, usage=usage, occurred_at=at),
        earlier,
        PlanningStarted(scenario_id=b, producer="t", months_total=3, occurred_at=at + timedelta(seconds=1)),
        TrendsGenerated(scenario_id=a, producer="t", months_total=2, duration_ms=1, occurred_at=at),
        b_first,
        month(a, 2, 2, 3),
        month(a, 1, 2, 4),
        ValidationStarted(scenario_id=a, producer="t", occurred_at=at + timedelta(seconds=6)),
        month(b, 2, 3, 7),
    ]
    return earlier, batch


async def _gateway_row(pool: asyncpg.Pool, sid: UUID, months: int) -> None:
    await pool.execute(
        "INSERT INTO scenario_status (scenario_id, status, stage, progress, stage_message, months_total)"
        " VALUES ($1, 'queued', 'queued', 0, 'Queued', $2)",
        sid,
        months,
    )


async def _rows(pool: asyncpg.Pool, *sids: UUID) -> list[dict[str, Any]]:
    """The rows as the projection wrote them, without their ids and clock times."""
    rows = [await pool.fetchrow("SELECT * FROM scenario_status WHERE scenario_id = $1", sid) for sid in sids]
    skip = {"scenario_id", "created_at", "updated_at", "moved_at"}
    return [{k: v for k, v in row.items() if k not in skip} for row in rows if row is not None]


async def test_a_batch_ends_where_the_same_events_one_by_one_end(pool: asyncpg.Pool) -> None:
    one_a, one_b, many_a, many_b = uuid4(), uuid4(), uuid4(), uuid4()
    await _gateway_row(pool, one_a, 2)
    await _gateway_row(pool, many_a, 2)

    earlier, events = _story(one_a, one_b)
    assert await project(pool, earlier) is True
    applied = [await project(pool, event) for event in events]
    assert applied.count(True) == 8

    earlier, batch = _story(many_a, many_b)
    assert await project(pool, earlier) is True
    assert await project_many(pool, batch) == 8

    one, many = await _rows(pool, one_a, one_b), await _rows(pool, many_a, many_b)
    assert len(many) == 2
    assert many == one
    a, b = many
    assert (a["status"], a["stage"], a["months_done"]) == ("processing", "validating", 2)
    assert a["stage_message"] == STAGE_MESSAGES[Stage.VALIDATING]
    assert (b["stage"], b["months_total"], b["months_seen"]) == ("stage3_months", 3, [1, 2])
    # The month delivered twice in the batch counts once.
    assert b["usage"]["calls"] == 2 and b["timings"]["llm_months_ms"] == 80


async def test_a_batch_applied_again_changes_nothing(pool: asyncpg.Pool) -> None:
    a, b = uuid4(), uuid4()
    earlier, batch = _story(a, b)
    assert await project_many(pool, [earlier, *batch]) == 9
    before = await _rows(pool, a, b)
    assert await project_many(pool, batch) == 0
    assert await _rows(pool, a, b) == before
    assert await project_many(pool, []) == 0
