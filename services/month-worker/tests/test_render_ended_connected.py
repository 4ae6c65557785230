"""A month rendered for a scenario that has ended keeps nothing of that delivery: a month taken
just before a cancel is not written, and a duplicate of a month of a completed scenario leaves
the month as it was validated."""

from uuid import uuid4

import asyncpg
import pytest

from cube_contracts import BusinessType, MonthRequested, ScenarioSpec
from cube_engine.selection import Engines
from cube_engine.simulated import generate
from cube_month_worker.rendering import _render_and_store
from cube_month_worker.store import Abandoned, MasterDataCache, PlanWatch, replace_month
from tests.helpers import insert_scenario

pytestmark = pytest.mark.connected
STORED = "SELECT count(*) FROM business_events WHERE scenario_id = $1"


@pytest.mark.parametrize("status", ["processing", "cancelled", "completed"])
async def test_a_month_of_an_ended_scenario_changes_nothing(pool: asyncpg.Pool, status: str) -> None:
    sid = uuid4()
    spec = ScenarioSpec(business_type=BusinessType.HOTEL, seed=2, months=2)
    master, plans, months = generate(spec, sid)
    await insert_scenario(pool, spec, sid, master=master, status=status)
    before = 0
    if status == "completed":  # the month as the first delivery stored it and the validator checked it
        await replace_month(pool, sid, 1, months[0])
        before = len(months[0])
    req = MonthRequested(scenario_id=sid, producer="test", spec=spec, month=1, months_total=2, plan=plans[0])
    render = _render_and_store(pool, Engines("0"), MasterDataCache(), req, PlanWatch(), 10.0)
    if status == "processing":
        events, _ = await render
        assert len(events) == len(months[0]) == await pool.fetchval(STORED, sid)
    else:  # taken before the scenario ended, rendered after
        with pytest.raises(Abandoned):
            await render
        assert await pool.fetchval(STORED, sid) == before
