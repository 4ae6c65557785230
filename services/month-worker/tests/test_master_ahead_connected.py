"""Master data is read as soon as the planner has stored it (MASTER_STORED), before any month of
the scenario asks for it, and read again when the planner stores it anew."""

import asyncio
from unittest.mock import patch
from uuid import UUID, uuid4

import asyncpg
import pytest

from cube_contracts import BusinessType, MasterData, ScenarioSpec
from cube_engine import SimulatedEngine
from cube_month_worker.store import MasterDataCache
from cube_planner.planning import store_master
from tests.helpers import insert_scenario

pytestmark = pytest.mark.connected


async def _master(sid: UUID, seed: int) -> MasterData:
    spec = ScenarioSpec(business_type=BusinessType.HOTEL, seed=seed)
    return await SimulatedEngine(latency="0").master_data(sid, spec)


async def _until_read(cache: MasterDataCache, sid: UUID) -> None:
    for _ in range(200):
        found = cache._items.get(sid)
        if found is not None and found.done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the stored master data was not read ahead")


async def test_master_data_is_read_once_stored_and_again_when_stored_anew(pool: asyncpg.Pool) -> None:
    sid = uuid4()
    await insert_scenario(pool, ScenarioSpec(business_type=BusinessType.HOTEL, seed=1), sid)
    cache = MasterDataCache()
    await cache.listen(pool)
    reads = []
    read = MasterDataCache._read

    async def counted(pool: asyncpg.Pool, scenario_id: UUID) -> MasterData:
        reads.append(scenario_id)
        return await read(pool, scenario_id)

    try:
        with patch.object(MasterDataCache, "_read", staticmethod(counted)):
            first = await _master(sid, 1)
            await store_master(pool, sid, first)
            await _until_read(cache, sid)
            assert reads == [sid]
            assert await cache.get(pool, sid) == first
            assert reads == [sid]  # the month did not read it again

            again = await _master(sid, 2)  # planned again after a crash: other master data
            assert again != first
            await store_master(pool, sid, again)
            for _ in range(200):
                if len(reads) == 2 and cache._items[sid].done():
                    break
                await asyncio.sleep(0.01)
            assert await cache.get(pool, sid) == again
            assert reads == [sid, sid]
    finally:
        await cache.stop()
