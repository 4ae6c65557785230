"""A scenario's lifecycle event, once on the broker, rings the doorbell of the status consumer."""

from uuid import uuid4

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from cube_contracts import SCENARIO_LIFECYCLE, ValidationStarted, derived_id, scenario_key
from cube_runtime.testing import Infra
from cube_validator.validation import _lifecycle
from tests.helpers import rings_heard

pytestmark = pytest.mark.connected


async def test_a_published_lifecycle_event_rings_the_doorbell(pool: asyncpg.Pool, infra: Infra) -> None:
    sid = uuid4()
    started = ValidationStarted(
        event_id=derived_id(sid, "ValidationStarted", 1), scenario_id=sid, producer="validator"
    )

    async def act() -> None:
        async with KafkaBroker(infra.bootstrap) as broker:
            await _lifecycle(pool, broker, started, scenario_key(sid))

    assert await rings_heard(pool, act) == [SCENARIO_LIFECYCLE]
