"""A scenario that ends while its month is being stored keeps nothing of that month: the end is
asked while the month is written, and what was written is taken out again."""

from uuid import uuid4

import asyncpg
import pytest

from cube_contracts import BusinessType, MonthRequested, ScenarioSpec
from cube_engine.selection import Engines
from cube_engine.simulated import generate
from cube_month_worker.rendering import _render_and_store
from cube_month_worker.store import Abandoned, MasterDataCache, PlanWatch
from tests.helpers import insert_scenario

pytestmark = pytest.mark.connected


@pytest.mark.parametrize("status", ["processing", "cancelled"])
async def test_a_month_of_an_ended_scenario_is_not_kept(pool: asyncpg.Pool, status: str) -> None:
    sid = uuid4()
    spec = ScenarioSpec(business_type=BusinessType.HOTEL, seed=2, months=2)
    master, plans, months = generate(spec, sid)
    await insert_scenario(pool, spec, sid, master=master, status=status)
    req = MonthRequested(scenario_id=sid, producer="test", spec=spec, month=1, months_total=2, plan=plans[0])
    stored = "SELECT count(*) FROM business_events WHERE scenario_id = $1"
    render = _render_and_store(pool, Engines("0"), MasterDataCache(), req, PlanWatch(), 10.0)
    if status == "processing":
        events, _ = await render
        assert len(events) == len(months[0]) == await pool.fetchval(stored, sid)
    else:  # cancelled after the month was taken: rendered and written, then taken out
        with pytest.raises(Abandoned):
            await render
        assert await pool.fetchval(stored, sid) == 0
