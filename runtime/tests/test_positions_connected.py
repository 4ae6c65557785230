"""A consumer whose position is past the end of its partition reads it again from the start."""

import asyncio
from types import SimpleNamespace
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from cube_runtime.positions import PositionGuard
from cube_runtime.testing import Infra

pytestmark = pytest.mark.connected


async def test_position_past_the_end_is_reset_to_the_beginning(infra: Infra) -> None:
    topic = f"positions-{uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap)
    await producer.start()
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        for i in range(3):
            await producer.send_and_wait(topic, b"m%d" % i, partition=0)
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        # As after a restart of a memory-only broker: the consumer sits at an offset the new log never had.
        consumer.seek(tp, 100)
        for _ in range(25):
            assert await consumer.getmany(timeout_ms=200) == {}
            if consumer.highwater(tp) is not None:
                break
        assert consumer.highwater(tp) == 3

        guard = PositionGuard(SimpleNamespace(subscribers=[SimpleNamespace(consumer=consumer)]))
        forgotten: list[TopicPartition] = []
        guard.on_reset.append(forgotten.append)
        assert await guard.check_once() == [tp]
        assert forgotten == [tp]
        got: list[bytes] = []
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=200)
            got += [r.value for records in batch.values() for r in records if r.value is not None]
            if len(got) >= 3:
                break
        assert got == [b"m0", b"m1", b"m2"]
        # A consumer within its partition is left alone.
        assert await guard.check_once() == []
    finally:
        await consumer.stop()
        await producer.stop()
        await asyncio.sleep(0)
