"""Months' numbers read while their text is written: the validator then reads only the rest,
and a month written again since is read again."""

import asyncio
import json
from uuid import UUID, uuid4

import asyncpg
import pytest

from cube_contracts import BusinessEvent, BusinessType, ScenarioSpec
from cube_engine import generate
from cube_month_worker.store import add_to_month, replace_month
from cube_validator.analytics import published_form, to_json
from cube_validator.prefetch import Ledger, LedgerPrefetch
from cube_validator.repository import load_scenario
from tests.helpers import insert_scenario

pytestmark = pytest.mark.connected


async def _scenario(pool: asyncpg.Pool) -> tuple[UUID, list[list[BusinessEvent]]]:
    sid = uuid4()
    spec = ScenarioSpec(business_type=BusinessType.HOTEL, seed=5, months=3)
    master, _, months = generate(spec, sid)
    await insert_scenario(pool, spec, sid, engine="claude", master=master)
    return sid, months


async def _until_read(ahead: LedgerPrefetch, sid: UUID, months: list[int]) -> None:
    for _ in range(200):
        if ahead.read_months(sid) == months:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"read {ahead.read_months(sid)}, expected {months}")


async def _load(
    pool: asyncpg.Pool, ahead: LedgerPrefetch, sid: UUID
) -> tuple[dict[int, Ledger], list[BusinessEvent]]:
    async with pool.acquire() as conn:
        have = await ahead.take(conn, sid)
    *_, events = await load_scenario(pool, sid, have)
    published = await published_form(pool, sid, have)
    assert [json.loads(p.value) for p in published] == [json.loads(to_json(e)) for e in events]
    assert [p.event_id for p in published] == [e.event_id for e in events]
    return have, events


async def test_the_rest_is_read_after_the_numbers_read_ahead(pool: asyncpg.Pool) -> None:
    sid, months = await _scenario(pool)
    elsewhere, others = await _scenario(pool)  # validated by another validator process
    ahead = LedgerPrefetch()
    await ahead.start(pool)
    try:
        ahead.expect(sid)  # its MonthStarted came here
        await replace_month(pool, elsewhere, 1, others[0], ahead=True)
        # Months 1 and 2: numbers first (all but their last two events), the rest once "written".
        for m in (1, 2):
            await replace_month(pool, sid, m, months[m - 1][:-2], ahead=True)
        await replace_month(pool, sid, 3, months[2])
        await _until_read(ahead, sid, [1, 2])
        assert ahead.read_months(elsewhere) == []  # notified first, and not read
        for m in (1, 2):
            await add_to_month(pool, sid, m, months[m - 1][-2:], len(months[m - 1]) - 2)
        have, events = await _load(pool, ahead, sid)
        assert [(e.event_id, e.amount) for e in events] == [(e.event_id, e.amount) for m in months for e in m]
        assert sorted(have) == [1, 2]  # their numbers were not read again
        assert ahead.read_months(sid) == []  # taken, so forgotten
    finally:
        await ahead.stop()


async def test_a_month_written_again_since_is_read_again(pool: asyncpg.Pool) -> None:
    sid, months = await _scenario(pool)
    ahead = LedgerPrefetch()
    await ahead.start(pool)
    try:
        ahead.expect(sid)
        for m in (1, 2, 3):
            await replace_month(pool, sid, m, months[m - 1], ahead=True)
        await _until_read(ahead, sid, [1, 2, 3])
        changed = [e.model_copy(update={"attributes": {"again": True}}) for e in months[1]]
        await replace_month(pool, sid, 2, changed)  # same ids and count, another transaction
        have, events = await _load(pool, ahead, sid)
        assert sorted(have) == [1, 3]
        assert [e.attributes for e in events if e.month == 2] == [{"again": True}] * len(changed)
        assert [e.event_id for e in events] == [e.event_id for m in months for e in m]
    finally:
        await ahead.stop()
