"""A scenario whose plans are stored early (numbers first, story later) counts as planned only
once they are complete, and a month re-driven then gets its whole plan."""

from uuid import uuid4

import asyncpg
import pytest

from cube_contracts import MONTH_REQUESTED, SCENARIO_REQUESTED, BusinessType, MonthRequested, ScenarioSpec
from cube_engine.simulated import SimulatedEngine
from cube_runtime.redrive import remaining, snapshot
from tests.helpers import insert_scenario

pytestmark = pytest.mark.connected


async def test_early_plans_count_once_complete_and_a_redriven_month_gets_the_whole_plan(
    pool: asyncpg.Pool,
) -> None:
    sid = uuid4()
    spec = ScenarioSpec(business_type=BusinessType.BAKERY, seed=3, months=2)
    master = await SimulatedEngine().master_data(sid, spec)
    await insert_scenario(pool, spec, sid, engine="claude", master=master, status="processing")
    for m in (1, 2):
        await pool.execute(
            "INSERT INTO month_plans (scenario_id, month, plan, complete) VALUES ($1, $2, $3, false)",
            sid, m, {"demand": m, "story": {"pending": True}},
        )  # fmt: skip
    async with pool.acquire() as conn:
        snap = await snapshot(conn, sid)
        assert snap is not None and not snap.planned
        assert [o.topic for o in await remaining(conn, snap, "test")] == [SCENARIO_REQUESTED]
    await pool.execute(
        "UPDATE month_plans SET later = $2, complete = true WHERE scenario_id = $1",
        sid,
        {"story": {"theme": "Rain"}},
    )
    async with pool.acquire() as conn:
        snap = await snapshot(conn, sid)
        assert snap is not None and snap.planned
        out = await remaining(conn, snap, "test")
    assert [o.topic for o in out] == [MONTH_REQUESTED, MONTH_REQUESTED]
    requests = [o.event for o in out]
    assert all(isinstance(r, MonthRequested) for r in requests)
    assert [r.plan for r in requests if isinstance(r, MonthRequested)] == [
        {"demand": 1, "story": {"theme": "Rain"}},
        {"demand": 2, "story": {"theme": "Rain"}},
    ]
