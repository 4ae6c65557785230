"""An idle consumer pauses its partitions; a ring wakes it at once, a look finds what a lost ring
would have announced, a lost listening connection costs one look, and a message being handled
keeps it awake."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from uuid import uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from cube_runtime import db
from cube_runtime.doorbell import CHANNEL, Doorbell, ring
from cube_runtime.testing import Infra

pytestmark = pytest.mark.connected


class Taker:
    """A consumer of one partition that records when each message came, as a handler would."""

    def __init__(self, infra: Infra, topic: str) -> None:
        self.tp = TopicPartition(topic, 0)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=infra.bootstrap, fetch_max_wait_ms=10)
        self.came: list[tuple[bytes, float]] = []
        self.bell: Doorbell | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, bell: Doorbell, pool: asyncpg.Pool) -> None:
        await self.consumer.start()
        self.consumer.assign([self.tp])
        await self.consumer.seek_to_end(self.tp)
        self.bell = bell
        await bell.start(pool)
        self._task = asyncio.create_task(self._take())

    async def idle(self, pool: asyncpg.Pool, awake_s: float = 0.1, probe_s: float = 30.0) -> Doorbell:
        """Start taking with a doorbell, and wait until it has paused the idle consumer."""
        bell = Doorbell(
            SimpleNamespace(consumer=self.consumer), (self.tp.topic,), awake_s=awake_s, probe_s=probe_s
        )
        await self.start(bell, pool)
        await self.until_paused()
        return bell

    async def _take(self) -> None:
        while True:
            record = await self.consumer.getone()
            self.came.append((record.value or b"", time.monotonic()))
            assert self.bell is not None
            self.bell.touch()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.bell is not None:
            await self.bell.stop()
        await self.consumer.stop()

    async def until_paused(self, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while self.consumer.paused() != {self.tp}:
            assert time.monotonic() < deadline, "the idle consumer did not pause its partition"
            await asyncio.sleep(0.01)

    async def until_came(self, value: bytes, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while True:
            for got, at in self.came:
                if got == value:
                    return at
            assert time.monotonic() < deadline, f"{value!r} did not come within {timeout} s"
            await asyncio.sleep(0.002)


@pytest.fixture
async def taken(infra: Infra) -> AsyncIterator[tuple[Taker, AIOKafkaProducer, asyncpg.Pool]]:
    topic = f"doorbell-{uuid4().hex[:8]}"
    pool = await db.create_pool(infra.dsn, min_size=1, max_size=4)
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap)
    await producer.start()
    await producer.send_and_wait(topic, b"created", partition=0)  # the topic exists before the consumer
    taker = Taker(infra, topic)
    try:
        yield taker, producer, pool
    finally:
        await taker.stop()
        await producer.stop()
        await pool.close()


async def test_a_ring_wakes_a_paused_consumer_at_once(
    taken: tuple[Taker, AIOKafkaProducer, asyncpg.Pool],
) -> None:
    taker, producer, pool = taken
    bell = await taker.idle(pool)
    await asyncio.sleep(0.3)  # paused, not fetching: without a ring nothing comes for 30 s
    sent = time.monotonic()
    await producer.send_and_wait(taker.tp.topic, b"rung", partition=0)
    await ring(pool, "some.other.topic", taker.tp.topic)
    took = await taker.until_came(b"rung", timeout=2.0) - sent
    assert took < 0.5, f"a ring woke the consumer only after {took:.3f} s"
    assert bell.pauses >= 1
    await taker.until_paused()  # and once idle again, it pauses again


async def test_a_ring_for_another_topic_does_not_wake_it(
    taken: tuple[Taker, AIOKafkaProducer, asyncpg.Pool],
) -> None:
    taker, _, pool = taken
    await taker.idle(pool)
    await ring(pool, "some.other.topic")
    await asyncio.sleep(0.2)
    assert taker.consumer.paused() == {taker.tp}


async def test_without_a_ring_the_message_is_found_by_the_next_look(
    taken: tuple[Taker, AIOKafkaProducer, asyncpg.Pool],
) -> None:
    taker, producer, pool = taken
    await taker.idle(pool, probe_s=0.5)
    sent = time.monotonic()
    await producer.send_and_wait(taker.tp.topic, b"unannounced", partition=0)
    took = await taker.until_came(b"unannounced", timeout=3.0) - sent
    assert took < 1.5, f"a message without a ring waited {took:.3f} s for a look every 0.5 s"


async def test_a_bell_whose_connection_is_lost_costs_one_look_then_listens_again(
    taken: tuple[Taker, AIOKafkaProducer, asyncpg.Pool], infra: Infra
) -> None:
    taker, producer, pool = taken
    await taker.idle(pool, probe_s=0.5)
    admin = await asyncpg.connect(infra.dsn)
    try:  # the listening connection goes away, as in a database restart
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query ILIKE $1",
            f"LISTEN%{CHANNEL}%",
        )
    finally:
        await admin.close()
    assert killed >= 1
    sent = time.monotonic()
    await producer.send_and_wait(taker.tp.topic, b"unheard", partition=0)
    await ring(pool, taker.tp.topic)  # lost: nobody listens
    took = await taker.until_came(b"unheard", timeout=3.0) - sent
    assert took < 1.5, f"with its ring lost the message waited {took:.3f} s, more than a look"
    await asyncio.sleep(0.3)
    await taker.until_paused()
    sent = time.monotonic()
    await producer.send_and_wait(taker.tp.topic, b"heard again", partition=0)
    await ring(pool, taker.tp.topic)
    took = await taker.until_came(b"heard again", timeout=3.0) - sent
    assert took < 0.3, f"the bell did not listen again: {took:.3f} s"


async def test_a_consumer_does_not_pause_while_it_handles_a_message(
    taken: tuple[Taker, AIOKafkaProducer, asyncpg.Pool],
) -> None:
    taker, _, pool = taken
    bell = await taker.idle(pool, awake_s=0.05)
    with bell.handling():  # a long handler: a pause now would drop what was fetched behind it
        for _ in range(30):
            await asyncio.sleep(0.01)
            assert taker.consumer.paused() == set()
    await taker.until_paused()
