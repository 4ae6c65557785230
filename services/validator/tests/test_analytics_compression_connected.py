"""The analytics topic's batches are compressed (zstd by default), and a consumer reads the same
events back; with `none` they go out as they are. Batches prepared ahead go out first, once."""

import asyncio
from uuid import uuid4

import pytest

from cube_contracts import ANALYTICS_BUSINESS_EVENTS
from cube_runtime.testing import Infra
from cube_validator.analytics import AnalyticsPublisher, Published
from cube_validator.settings import ValidatorSettings
from tests.helpers import read_topic

pytestmark = pytest.mark.connected


@pytest.mark.parametrize("compression", ["zstd", "none"])
async def test_published_events_read_back_the_same(infra: Infra, compression: str) -> None:
    sid = uuid4()
    events = [Published(uuid4(), "sale", f'{{"n": {i}, "sid": "{sid}"}}'.encode()) for i in range(300)]
    publisher = AnalyticsPublisher(infra.bootstrap, compression)
    await publisher.start()
    try:
        assert await publisher.publish(sid, events) == 300
    finally:
        await publisher.stop()
    records = await read_topic(infra.bootstrap, ANALYTICS_BUSINESS_EVENTS, str(sid).encode())
    assert [r.value for r in records] == [e.value for e in events]


@pytest.mark.parametrize("compression", ["zstd", "none"])
async def test_batches_prepared_ahead_go_out_before_the_rest(infra: Infra, compression: str) -> None:
    sid = uuid4()
    numbers = [Published(uuid4(), "sale", f'{{"n": {i}, "sid": "{sid}"}}'.encode()) for i in range(3000)]
    text = [Published(uuid4(), "narrative", f'{{"t": {i}, "sid": "{sid}"}}'.encode()) for i in range(12)]
    publisher = AnalyticsPublisher(infra.bootstrap, compression)
    await publisher.start()
    try:
        ready = await asyncio.to_thread(publisher.prepare, sid, numbers)  # as the validator does
        assert ready.event_ids == [e.event_id for e in numbers]
        assert all(b.size() > 0 for b in ready.batches)
        assert await publisher.publish(sid, text, ready) == 3012
    finally:
        await publisher.stop()
    records = await read_topic(infra.bootstrap, ANALYTICS_BUSINESS_EVENTS, str(sid).encode())
    assert [r.value for r in records] == [e.value for e in numbers + text]
    assert {dict(r.headers)["event_type"] for r in records[-12:]} == {b"narrative"}


def test_zstd_is_the_default() -> None:
    assert ValidatorSettings.model_fields["cube_analytics_compression"].default == "zstd"
