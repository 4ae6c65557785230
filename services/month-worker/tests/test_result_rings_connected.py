"""A month's start and result, once on the broker, ring the validator's doorbell."""

from uuid import uuid4

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from cube_contracts import MONTH_COMPLETED, MonthStarted, derived_id, scenario_key
from cube_month_worker.rendering import publish_result
from cube_runtime.testing import Infra
from tests.helpers import rings_heard

pytestmark = pytest.mark.connected


async def test_a_published_month_start_rings_the_doorbell(pool: asyncpg.Pool, infra: Infra) -> None:
    sid = uuid4()
    started = MonthStarted(
        event_id=derived_id(sid, "MonthStarted", 1, 1), scenario_id=sid, producer="month-worker",
        month=1, months_total=12, worker="test",
    )  # fmt: skip

    async def act() -> None:
        async with KafkaBroker(infra.bootstrap) as broker:
            await publish_result(pool, broker, started, scenario_key(sid))

    assert await rings_heard(pool, act) == [MONTH_COMPLETED]
