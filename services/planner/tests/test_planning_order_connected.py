"""Master data is being made while PlanningStarted goes out (the call to the model does not wait
for the broker), and the planning events of a scenario still reach the topic in their order."""

import asyncio
import json
import time
from typing import Any
from unittest.mock import patch
from uuid import UUID, uuid4

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from cube_contracts import (
    SCENARIO_PLANNING,
    BusinessType,
    MasterData,
    PlanningStarted,
    ScenarioRequested,
    ScenarioSpec,
    scenario_key,
)
from cube_engine import SimulatedEngine
from cube_engine.selection import Engines
from cube_planner import planning
from cube_runtime.testing import Infra
from tests.helpers import insert_scenario, read_topic

pytestmark = pytest.mark.connected
times: dict[str, float] = {}


class Recorded(SimulatedEngine):
    async def master_data(self, scenario_id: UUID, spec: ScenarioSpec) -> MasterData:
        times["master data begun"] = time.monotonic()
        return await super().master_data(scenario_id, spec)


async def test_master_data_is_made_while_planning_started_goes_out(pool: asyncpg.Pool, infra: Infra) -> None:
    sid = uuid4()
    spec = ScenarioSpec(business_type=BusinessType.TECH_STARTUP, seed=4, months=3)
    await insert_scenario(pool, spec, sid, status="queued")
    engines = Engines("0")
    engines.simulated = Recorded()
    event = ScenarioRequested(event_id=uuid4(), scenario_id=sid, producer="test", spec=spec)
    publish = planning.publish_and_ring

    async def slow_broker(pool: Any, broker: Any, topic: str, event: Any, key: bytes) -> None:
        if isinstance(event, PlanningStarted):
            await asyncio.sleep(0.3)
            times["started out"] = time.monotonic()
        await publish(pool, broker, topic, event, key)

    async with KafkaBroker(infra.bootstrap) as broker:
        with patch.object(planning, "publish_and_ring", slow_broker):
            await planning.plan(pool, broker, engines, event)
    assert times["master data begun"] < times["started out"] - 0.2
    records = await read_topic(infra.bootstrap, SCENARIO_PLANNING, scenario_key(sid))
    kinds = [json.loads(r.value)["event_type"] for r in records]
    assert kinds == ["PlanningStarted", "MasterDataGenerated", "TrendsGenerated"]
