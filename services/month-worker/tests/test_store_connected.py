"""A month written twice at the same time (a redelivered request rendered while the first still
is) ends as one copy of its events, whichever write commits last; a write that fails changes
nothing; numbers stored ahead are announced when they are committed."""

import asyncio
from uuid import uuid4

import asyncpg
import pytest

from cube_contracts import BusinessType, ScenarioSpec
from cube_engine.simulated import generate
from cube_month_worker.store import add_to_month, replace_month
from cube_runtime.listen import Listener
from cube_runtime.redrive import LEDGER_STORED
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


async def test_a_write_that_fails_changes_nothing_and_leaves_no_transaction_open(pool: asyncpg.Pool) -> None:
    sid = uuid4()
    spec = ScenarioSpec(business_type=BusinessType.HOTEL, seed=3, months=2)
    await insert_scenario(pool, spec, sid)
    _, _, months = generate(spec, sid)
    await replace_month(pool, sid, 1, months[0])
    broken = [months[0][0].model_copy(update={"event_id": months[1][0].event_id})] * 2  # one id twice
    with pytest.raises(asyncpg.UniqueViolationError):
        await add_to_month(pool, sid, 1, broken, 10)
    rows = await pool.fetch("SELECT event_id FROM business_events WHERE scenario_id = $1 ORDER BY seq", sid)
    assert [r["event_id"] for r in rows] == [e.event_id for e in months[0]]  # the DELETE was undone
    for _ in range(pool.get_max_size()):  # every connection handed out again is outside a transaction
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()


async def test_numbers_stored_ahead_are_announced_once_committed(pool: asyncpg.Pool) -> None:
    sid = uuid4()
    spec = ScenarioSpec(business_type=BusinessType.HOTEL, seed=3, months=2)
    await insert_scenario(pool, spec, sid)
    _, _, months = generate(spec, sid)
    heard: list[str] = []
    listener = Listener(LEDGER_STORED, heard.append)
    await listener.start(pool)
    try:
        await replace_month(pool, sid, 2, months[1], ahead=True)
        await replace_month(pool, sid, 1, months[0])  # not ahead: no notification
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
    finally:
        await listener.stop()
    assert heard == [f"{sid}:2:{len(months[1])}"]
