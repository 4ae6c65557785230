"""A month written twice at the same time (a redelivered request rendered while the first still
is) ends as one copy of its events, whichever write commits last."""

import asyncio
from uuid import uuid4

import asyncpg
import pytest

from cube_contracts import BusinessType, ScenarioSpec
from cube_engine.simulated import generate
from cube_month_worker.store import add_to_month, replace_month
from tests.helpers import insert_scenario

pytestmark = pytest.mark.connected


async def test_two_writes_of_one_month_at_once_leave_one_copy(pool: asyncpg.Pool) -> None:
    sid = uuid4()
    spec = ScenarioSpec(business_type=BusinessType.HOTEL, seed=3, months=2)
    await insert_scenario(pool, spec, sid)
    _, _, months = generate(spec, sid)
    numbers, told = months[0][:-5], months[0][-5:]
    for _ in range(3):
        await asyncio.gather(*(replace_month(pool, sid, 1, numbers, ahead=True) for _ in range(4)))
        await asyncio.gather(*(add_to_month(pool, sid, 1, told, len(numbers)) for _ in range(4)))
    rows = await pool.fetch(
        "SELECT event_id, seq FROM business_events WHERE scenario_id = $1 AND month = 1 ORDER BY seq", sid
    )
    assert [r["event_id"] for r in rows] == [e.event_id for e in months[0]]
    assert [r["seq"] for r in rows] == list(range(len(months[0])))
