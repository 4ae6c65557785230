"""A scenario's lifecycle event, once on the broker, rings the doorbell of the status consumer."""

import asyncio
from uuid import uuid4

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from cube_contracts import SCENARIO_LIFECYCLE, ValidationStarted, derived_id, scenario_key
from cube_runtime.doorbell import CHANNEL
from cube_runtime.listen import Listener
from cube_runtime.testing import Infra
from cube_validator.validation import _lifecycle

pytestmark = pytest.mark.connected


async def test_a_published_lifecycle_event_rings_the_doorbell(pool: asyncpg.Pool, infra: Infra) -> None:
    heard: list[str] = []
    listener = Listener(CHANNEL, heard.append)
    await listener.start(pool)
    sid = uuid4()
    started = ValidationStarted(
        event_id=derived_id(sid, "ValidationStarted", 1), scenario_id=sid, producer="validator"
    )
    try:
        async with KafkaBroker(infra.bootstrap) as broker:
            await _lifecycle(pool, broker, started, scenario_key(sid))
        for _ in range(200):
            if heard:
                break
            await asyncio.sleep(0.01)
        assert heard == [SCENARIO_LIFECYCLE]
    finally:
        await listener.stop()
