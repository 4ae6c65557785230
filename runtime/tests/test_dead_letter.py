"""A message that breaks its contract goes to `<topic>.dlq` with headers naming the error;
the same test runs in memory and on the real broker."""

import asyncio
from uuid import uuid4

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import TypeAdapter

from cube_contracts import MonthRequested
from cube_runtime.consume import parse_or_dead_letter
from cube_runtime.testing import Infra

_adapter = TypeAdapter(MonthRequested)


def _wire(broker: KafkaBroker, topic: str) -> tuple[list[object], list[tuple[bytes, dict[str, str]]]]:
    parsed: list[object] = []
    dead: list[tuple[bytes, dict[str, str]]] = []
    group = f"t-{uuid4()}"

    @broker.subscriber(topic, group_id=group, auto_offset_reset="earliest", fetch_max_wait_ms=10)
    async def consume(msg: KafkaMessage) -> None:
        event = await parse_or_dead_letter(broker, msg, _adapter, "test")
        if event is not None:
            parsed.append(event)

    @broker.subscriber(f"{topic}.dlq", group_id=group, auto_offset_reset="earliest", fetch_max_wait_ms=10)
    async def dead_letters(msg: KafkaMessage) -> None:
        dead.append((msg.body, dict(msg.headers)))

    return parsed, dead


async def _poison_goes_to_the_dlq(broker: KafkaBroker, real: bool, topic: str) -> None:
    parsed, dead = _wire(broker, topic)
    async with TestKafkaBroker(broker, with_real=real) as br:
        await br.publish(b'{"event_type": "MonthRequested", "month": "soon"}', topic, key=b"k")
        for _ in range(200):
            if dead:
                break
            await asyncio.sleep(0.05)
    assert parsed == []
    body, headers = dead[0]
    assert body == b'{"event_type": "MonthRequested", "month": "soon"}'
    assert headers["dlq_source_topic"] == topic
    assert "month" in headers["dlq_error"] and headers["dlq_consumer"] == "test"
    assert {"dlq_partition", "dlq_offset"} <= set(headers)


async def test_poison_message_in_memory() -> None:
    await _poison_goes_to_the_dlq(KafkaBroker(), real=False, topic="month.requested")


@pytest.mark.connected
async def test_poison_message_on_the_real_broker(infra: Infra) -> None:
    from cube_contracts.topics import TopicSpec
    from cube_runtime.kafka import ensure_topics

    topic = f"dlq-test-{uuid4().hex[:8]}"
    await ensure_topics(infra.bootstrap, [TopicSpec(topic, 1, ""), TopicSpec(f"{topic}.dlq", 1, "")])
    await _poison_goes_to_the_dlq(KafkaBroker(infra.bootstrap), real=True, topic=topic)
