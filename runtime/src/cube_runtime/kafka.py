"""Kafka wiring: the FastStream broker every service uses, topic creation, and publishing."""

import asyncio
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from cube_contracts.topics import ALL_TOPICS, TopicSpec
from cube_runtime.settings import ConfigError

log = logging.getLogger(__name__)


def make_broker(bootstrap: str, service: str, *, graceful_timeout: float = 8.0) -> KafkaBroker:
    """A FastStream Kafka broker for `service`: idempotent producer, acks from all replicas."""
    return KafkaBroker(
        bootstrap.split(","),
        client_id=f"cube-{service}",
        graceful_timeout=graceful_timeout,
        acks="all",
        enable_idempotence=False,
        linger_ms=0,
        request_timeout_ms=10_000,
        logger=logging.getLogger(f"{service}.broker"),
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    bootstrap: str, topics: Iterable[TopicSpec] = ALL_TOPICS, *, timeout: float = 20
) -> list[str]:
    """Create the topics that do not exist yet; re-running changes nothing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","), request_timeout_ms=10_000)
    try:
        await asyncio.wait_for(admin.start(), timeout)
    except (KafkaConnectionError, KafkaError, OSError, TimeoutError) as exc:
        raise ConfigError(
            f"KAFKA_BOOTSTRAP_SERVERS: cannot reach the broker at {bootstrap} ({exc})"
        ) from None
    created: list[str] = []
    try:
        existing = set(await asyncio.wait_for(admin.list_topics(), timeout))
        missing = [t for t in topics if t.name not in existing]
        for spec in missing:
            try:
                await asyncio.wait_for(
                    admin.create_topics(
                        [NewTopic(name=spec.name, num_partitions=spec.partitions, replication_factor=1)]
                    ),
                    timeout,
                )
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # another process created it between our list and create
    except TimeoutError:
        raise ConfigError(
            f"KAFKA_BOOTSTRAP_SERVERS: the broker at {bootstrap} did not answer within {timeout:.0f} s"
        ) from None
    finally:
        await admin.close()
    if created:
        log.info("topics created", extra={"topics": created})
    return created


async def topic_partitions(bootstrap: str) -> dict[str, int]:
    """Partition count of every topic, as the broker reports it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    await admin.start()
    try:
        described = await admin.describe_topics()
        return {t["topic"]: len(t["partitions"]) for t in described}
    finally:
        await admin.close()


def encode(event: BaseModel) -> bytes:
    """The JSON bytes every message carries."""
    return event.model_dump_json().encode()


def event_headers(event: BaseModel) -> dict[str, str]:
    """Headers that let a consumer route or dead-letter a message without parsing it."""
    headers = {"event_type": str(getattr(event, "event_type", type(event).__name__))}
    scenario_id = getattr(event, "scenario_id", None)
    if scenario_id is not None:
        headers["scenario_id"] = str(scenario_id)
    return headers


async def publish(
    broker: KafkaBroker, topic: str, event: BaseModel, key: bytes, partition: int | None = None
) -> None:
    """Publish one pipeline event as JSON with routing headers."""
    await broker.publish(
        encode(event),
        topic,
        key=key,
        partition=partition,
        headers=event_headers(event),
    )


def month_partition(scenario_id: object, month: int, partitions: int = 24) -> int:
    """Months of one scenario go to consecutive partitions, so they spread over every worker."""
    import zlib

    return (zlib.crc32(str(scenario_id).encode()) + month - 1) % partitions
