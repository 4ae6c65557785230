"""Gateway test fixtures: the app on the session's real database and broker, through ASGI."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from fastapi import FastAPI

from cube_gateway.app import create_app
from cube_gateway.settings import GatewaySettings
from cube_runtime.testing import Infra


@pytest.fixture(scope="module")
async def app(infra: Infra) -> AsyncIterator[FastAPI]:
    """The gateway with its lifespan running (migrations, topics, pool, relay)."""
    application = create_app(GatewaySettings(kafka_bootstrap_servers=infra.bootstrap, database_url=infra.dsn))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        yield c


async def _wait_sent(pool: asyncpg.Pool, scenario_id: str, timeout: float = 5.0) -> bool:
    """True once the scenario's outbox row is marked sent."""
    for _ in range(int(timeout / 0.01)):
        if await pool.fetchval("SELECT sent_at FROM outbox WHERE key = $1", scenario_id.encode()):
            return True
        await asyncio.sleep(0.01)
    return False


async def _records_for(bootstrap: str, topic: str, key: bytes, timeout: float = 10.0) -> list[ConsumerRecord]:
    """Every record of `topic` with `key`, read from the earliest offset by a group-less consumer."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetches metadata, so the partitions are known
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        found: list[ConsumerRecord] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while any([await consumer.position(tp) < end[tp] for tp in parts]):
            if asyncio.get_running_loop().time() > deadline:
                break
            batch = await consumer.getmany(timeout_ms=200)
            found += [r for recs in batch.values() for r in recs if r.key == key]
        return found
    finally:
        await consumer.stop()


# Helpers as fixtures: test modules cannot import this conftest by name under --import-mode=importlib.
WaitSent = Callable[[str], Awaitable[bool]]
RecordsFor = Callable[[str], Awaitable[list[ConsumerRecord]]]


@pytest.fixture
def wait_sent(pool: asyncpg.Pool) -> WaitSent:
    """`await wait_sent(scenario_id)`: True once its outbox row is marked sent."""
    return lambda sid: _wait_sent(pool, sid)


@pytest.fixture
def requested_records(infra: Infra) -> RecordsFor:
    """`await requested_records(scenario_id)`: the scenario's records on scenario.requested."""
    return lambda sid: _records_for(infra.bootstrap, "scenario.requested", sid.encode())
