"""Master data is read once per scenario and process, even when its months arrive together."""

import asyncio
from typing import Any
from uuid import uuid4

import pytest

from cube_contracts import BusinessType, ScenarioSpec
from cube_engine import SimulatedEngine
from cube_month_worker.store import MasterDataCache


class CountingPool:
    def __init__(self, data: Any) -> None:
        self.data, self.reads = data, 0

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.reads += 1
        await asyncio.sleep(0.01)
        return self.data


async def test_months_arriving_together_share_one_read() -> None:
    sid = uuid4()
    master = await SimulatedEngine(latency="0").master_data(
        sid, ScenarioSpec(business_type=BusinessType.BAKERY, seed=1)
    )
    pool = CountingPool(master.model_dump(mode="json"))
    cache = MasterDataCache()
    got = await asyncio.gather(*(cache.get(pool, sid) for _ in range(6)))  # type: ignore[arg-type]
    assert pool.reads == 1
    assert all(m == master for m in got)
    await cache.get(pool, sid)  # type: ignore[arg-type]
    assert pool.reads == 1


async def test_a_failed_read_is_not_cached() -> None:
    pool = CountingPool(None)
    cache = MasterDataCache()
    sid = uuid4()
    for _ in range(2):
        with pytest.raises(LookupError):
            await cache.get(pool, sid)  # type: ignore[arg-type]
    assert pool.reads == 2
