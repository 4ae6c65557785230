"""Month results recorded in one statement each: counted once, never turned back from completed
to failed, not recorded at all for a scenario that has ended; and the one claim of the checks."""

from uuid import UUID, uuid4

import asyncpg
import pytest

from cube_contracts import BusinessType, MonthCompleted, MonthFailed, ScenarioSpec
from cube_validator import repository as repo
from tests.helpers import insert_scenario

pytestmark = pytest.mark.connected


def _completed(sid: UUID, month: int) -> MonthCompleted:
    return MonthCompleted(
        event_id=uuid4(), scenario_id=sid, producer="test", month=month, months_total=3,
        event_count=10, content_hash="h", duration_ms=1,
    )  # fmt: skip


def _failed(sid: UUID, month: int) -> MonthFailed:
    return MonthFailed(
        event_id=uuid4(), scenario_id=sid, producer="test", month=month, months_total=3, reason="boom"
    )


async def _scenario(pool: asyncpg.Pool, status: str | None = "processing") -> UUID:
    sid = uuid4()
    await insert_scenario(
        pool, ScenarioSpec(business_type=BusinessType.BAKERY, seed=1, months=3), sid, status=status
    )
    return sid


async def test_months_are_counted_once_and_a_completed_month_stays_completed(pool: asyncpg.Pool) -> None:
    sid = await _scenario(pool)
    assert await repo.record_month(pool, _completed(sid, 1)) == repo.Recorded(None, 1)
    assert await repo.record_month(pool, _completed(sid, 1)) == repo.Recorded(None, 1)  # redelivered
    assert await repo.record_month(pool, _failed(sid, 2)) == repo.Recorded(None, 1)
    assert await repo.record_month(pool, _failed(sid, 1)) == repo.Recorded(None, 1)  # late, stale
    assert await repo.record_month(pool, _completed(sid, 2)) == repo.Recorded(None, 2)  # retried
    assert await repo.record_month(pool, _completed(sid, 3)) == repo.Recorded(None, 3)
    rows = await pool.fetch(
        "SELECT month, status FROM month_results WHERE scenario_id = $1 ORDER BY month", sid
    )
    assert [(r["month"], r["status"]) for r in rows] == [(1, "completed"), (2, "completed"), (3, "completed")]


@pytest.mark.parametrize("status", ["cancelled", "failed", "completed"])
async def test_a_result_of_an_ended_scenario_is_not_recorded(pool: asyncpg.Pool, status: str) -> None:
    sid = await _scenario(pool, status)
    assert await repo.record_month(pool, _completed(sid, 1)) == repo.Recorded(status, 0)
    assert await pool.fetchval("SELECT count(*) FROM month_results WHERE scenario_id = $1", sid) == 0


async def test_a_result_of_a_deleted_scenario_is_not_recorded(pool: asyncpg.Pool) -> None:
    sid = uuid4()
    assert await repo.record_month(pool, _completed(sid, 1)) == repo.Recorded("deleted", 0)
    assert await pool.fetchval("SELECT count(*) FROM month_results WHERE scenario_id = $1", sid) == 0


async def test_the_checks_are_claimed_with_the_attempt_until_published(pool: asyncpg.Pool) -> None:
    sid = await _scenario(pool)
    await pool.execute("UPDATE scenario_status SET attempt = 2 WHERE scenario_id = $1", sid)
    assert await repo.claim(pool, sid) == 2
    assert await repo.claim(pool, sid) == 2  # left running by a crash: taken again
    await repo.mark_state(pool, sid, "published")
    assert await repo.claim(pool, sid) is None
