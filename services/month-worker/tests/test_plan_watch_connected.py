"""Months requested before their plans were stored wait for them on the real database: the
planner's notification wakes them, and an ended scenario or the time limit ends the wait."""

import asyncio
from uuid import UUID, uuid4

import asyncpg
import pytest

from cube_contracts import BusinessType, ScenarioSpec
from cube_month_worker.store import Abandoned, PlanWatch, load_plan
from cube_runtime.redrive import PLANS_STORED
from tests.helpers import insert_scenario

pytestmark = pytest.mark.connected


async def _scenario(pool: asyncpg.Pool, status: str = "processing") -> UUID:
    sid = uuid4()
    spec = ScenarioSpec(business_type=BusinessType.BAKERY, seed=7, months=2)
    await insert_scenario(pool, spec, sid, engine="claude", status=status)
    return sid


async def test_the_planners_notification_wakes_the_waiting_months(pool: asyncpg.Pool) -> None:
    sid = await _scenario(pool)
    watch = PlanWatch(poll=60.0)  # only the notification can wake them in time
    await watch.start(pool)
    try:
        waiting = [asyncio.ensure_future(watch.plan(pool, sid, m, timeout=20)) for m in (1, 2)]
        await asyncio.sleep(0.2)
        assert not any(w.done() for w in waiting)
        async with pool.acquire() as conn, conn.transaction():
            for m in (1, 2):
                await conn.execute(
                    "INSERT INTO month_plans (scenario_id, month, plan) VALUES ($1, $2, $3)", sid, m, {"m": m}
                )
            await conn.execute("SELECT pg_notify($1, $2)", PLANS_STORED, str(sid))
        plans = await asyncio.wait_for(asyncio.gather(*waiting), 10)
        assert plans == [{"m": 1}, {"m": 2}]
    finally:
        await watch.stop()


async def test_an_early_plan_is_taken_once_complete_and_only_what_was_added_is_read(
    pool: asyncpg.Pool,
) -> None:
    # The planner stores a month's numbers while its story is written, then adds the story.
    sid = await _scenario(pool)
    early = {"sales": list(range(500)), "story": {"pending": True}}
    await pool.execute(
        "INSERT INTO month_plans (scenario_id, month, plan, complete) VALUES ($1, 1, $2, false)", sid, early
    )
    watch = PlanWatch(poll=0.05)
    waiting = asyncio.ensure_future(watch.plan(pool, sid, 1, timeout=20))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # stored, but not complete
    assert await load_plan(pool, sid, 1) == early  # a re-driven month gets the early plan, and waits
    await pool.execute(
        "UPDATE month_plans SET later = $2, complete = true WHERE scenario_id = $1 AND month = 1",
        sid,
        {"story": {"theme": "Spring"}},
    )
    assert await asyncio.wait_for(waiting, 5) == {"story": {"theme": "Spring"}}
    assert await load_plan(pool, sid, 1) == {"sales": list(range(500)), "story": {"theme": "Spring"}}


async def test_without_a_notification_the_wait_polls(pool: asyncpg.Pool) -> None:
    sid = await _scenario(pool)
    watch = PlanWatch(poll=0.05)  # not listening at all
    waiting = asyncio.ensure_future(watch.plan(pool, sid, 1, timeout=20))
    await asyncio.sleep(0.2)
    await pool.execute("INSERT INTO month_plans (scenario_id, month, plan) VALUES ($1, 1, $2)", sid, {"m": 1})
    assert await asyncio.wait_for(waiting, 5) == {"m": 1}


async def test_an_ended_scenario_or_the_time_limit_ends_the_wait(pool: asyncpg.Pool) -> None:
    watch = PlanWatch(poll=0.05)
    cancelled = await _scenario(pool, status="cancelled")
    with pytest.raises(Abandoned):
        await watch.plan(pool, cancelled, 1, timeout=5)
    sid = await _scenario(pool)
    with pytest.raises(TimeoutError, match="not stored within"):
        await watch.plan(pool, sid, 1, timeout=0.2)


class _Counting:
    """The pool, counting the reads of month plans."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool, self.plan_reads = pool, 0

    async def fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        self.plan_reads += "month_plans" in sql
        return await self.pool.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: object) -> asyncpg.Record | None:
        return await self.pool.fetchrow(sql, *args)


async def test_months_waiting_together_are_woken_by_one_read(pool: asyncpg.Pool) -> None:
    sid = uuid4()
    await insert_scenario(pool, ScenarioSpec(business_type=BusinessType.BAKERY, seed=7, months=6), sid,
                          engine="claude", status="processing")  # fmt: skip
    counting = _Counting(pool)
    watch = PlanWatch(poll=60.0)
    await watch.start(pool)
    try:
        waiting = [asyncio.ensure_future(watch.plan(counting, sid, m, timeout=20)) for m in range(1, 7)]  # type: ignore[arg-type]
        await asyncio.sleep(0.2)
        before = counting.plan_reads
        async with pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO month_plans (scenario_id, month, plan) VALUES ($1, $2, $3)",
                [(sid, m, {"m": m}) for m in range(1, 7)],
            )
            await conn.execute("SELECT pg_notify($1, $2)", PLANS_STORED, str(sid))
        plans = await asyncio.wait_for(asyncio.gather(*waiting), 10)
        assert plans == [{"m": m} for m in range(1, 7)]
        assert counting.plan_reads - before == 1
    finally:
        await watch.stop()
