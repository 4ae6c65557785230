"""A planning stage's event, once on the broker, rings the doorbell of the status consumer."""

from uuid import uuid4

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from cube_contracts import SCENARIO_PLANNING, PlanningStarted, derived_id, scenario_key
from cube_planner.planning import _planning
from cube_runtime.testing import Infra
from tests.helpers import rings_heard

pytestmark = pytest.mark.connected


async def test_a_published_planning_stage_rings_the_doorbell(pool: asyncpg.Pool, infra: Infra) -> None:
    sid = uuid4()
    started = PlanningStarted(
        event_id=derived_id(sid, "PlanningStarted", 1), scenario_id=sid, producer="planner", months_total=12
    )

    async def act() -> None:
        async with KafkaBroker(infra.bootstrap) as broker:
            await _planning(pool, broker, started, scenario_key(sid))

    assert await rings_heard(pool, act) == [SCENARIO_PLANNING]
