"""The projection on the real database: the event id is recorded with the update, so replays are no-ops."""

from uuid import uuid4

import asyncpg
import pytest

from cube_contracts import MonthCompleted, PlanningStarted
from cube_progress.store import project

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
