"""Parsing consumed messages: a message that breaks its contract goes to `<topic>.dlq`
and fails the scenario it names."""

import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from pydantic import TypeAdapter, ValidationError

from cube_contracts.events import ScenarioFailed, derived_id
from cube_contracts.stages import Stage
from cube_contracts.topics import (
    MONTH_COMPLETED,
    MONTH_REQUESTED,
    SCENARIO_LIFECYCLE,
    SCENARIO_PLANNING,
    SCENARIO_REQUESTED,
    dlq,
    scenario_key,
)
from cube_runtime.kafka import publish

log = logging.getLogger(__name__)
T = TypeVar("T")


# Defaults a consumer subscribes with: commit after the work, and a fetch wait of
# milliseconds so that a pipeline hop is not 500 ms of aiokafka's default.
def subscriber_options(
    group: str,
    fetch_max_wait_ms: int,
    *,
    manual: bool = False,
    listener: Any = None,
    session_timeout_ms: int = 10000,
) -> dict[str, Any]:
    """Keyword arguments of `broker.subscriber` shared by every pipeline consumer.

    `manual` is for handlers that hand their work to a ConcurrentCommitter, which commits.
    """
    from faststream.middlewares import AckPolicy

    return {
        "group_id": group,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": fetch_max_wait_ms,
        "ack_policy": AckPolicy.MANUAL if manual else AckPolicy.ACK,
        "listener": listener,
        # On Tansu a member joins a group in about half the session timeout: 10 s (aiokafka's
        # default) costs 5 s at start-up and rides out a busy event loop.
        "session_timeout_ms": session_timeout_ms,
        "heartbeat_interval_ms": max(100, session_timeout_ms // 3),
    }


async def parse_or_dead_letter(
    broker: KafkaBroker, msg: KafkaMessage, adapter: TypeAdapter[T], consumer: str
) -> T | None:
    """The parsed event, or None after sending the raw message to its DLQ with error headers
    and, when the message names its scenario, failing that scenario with a reason."""
    return await _parse_or_dead_letter(broker, msg.body, msg.raw_message, adapter, consumer)


async def parse_record_or_dead_letter(
    broker: KafkaBroker, record: ConsumerRecord[Any, Any], adapter: TypeAdapter[T], consumer: str
) -> T | None:
    """`parse_or_dead_letter` for one record of a batch, as aiokafka fetched it."""
    return await _parse_or_dead_letter(broker, record.value or b"", record, adapter, consumer)


async def _parse_or_dead_letter(
    broker: KafkaBroker, body: bytes, raw: Any, adapter: TypeAdapter[T], consumer: str
) -> T | None:
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        error = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        headers = {k: v.decode(errors="replace") for k, v in (raw.headers or ())}
        headers.update(
            {
                "dlq_error": error[:1000],
                "dlq_source_topic": raw.topic,
                "dlq_partition": str(raw.partition),
                "dlq_offset": str(raw.offset),
                "dlq_consumer": consumer,
            }
        )
        await broker.publish(body, dlq(raw.topic), key=raw.key, headers=headers)
        log.error(
            "poison message sent to the dead-letter topic",
            extra={
                "topic": raw.topic,
                "partition": raw.partition,
                "offset": raw.offset,
                "error": error[:300],
            },
        )
        failed = dead_letter_failure(body, headers, raw.topic, raw.partition, raw.offset, consumer, error)
        if failed is not None:
            await publish(broker, SCENARIO_LIFECYCLE, failed, scenario_key(failed.scenario_id))
        return None


# The stage a scenario is in while its messages travel on each topic.
STAGE_OF_TOPIC: dict[str, Stage] = {
    SCENARIO_REQUESTED: Stage.STARTING,
    SCENARIO_PLANNING: Stage.MASTER_DATA,
    MONTH_REQUESTED: Stage.MONTHS,
    MONTH_COMPLETED: Stage.MONTHS,
    SCENARIO_LIFECYCLE: Stage.VALIDATING,
}
_failed: TypeAdapter[ScenarioFailed] = TypeAdapter(ScenarioFailed)


def scenario_of(body: bytes, headers: Mapping[str, str]) -> UUID | None:
    """The scenario a message belongs to: its `scenario_id` header, else the field in its body."""
    candidates: list[object] = [headers.get("scenario_id")]
    with contextlib.suppress(ValueError):
        parsed = json.loads(body)
        if isinstance(parsed, dict):
            candidates.append(parsed.get("scenario_id"))
    for candidate in candidates:
        if isinstance(candidate, str):
            with contextlib.suppress(ValueError):
                return UUID(candidate)
    return None


def dead_letter_failure(
    body: bytes,
    headers: Mapping[str, str],
    topic: str,
    partition: int,
    offset: int,
    consumer: str,
    error: str,
) -> ScenarioFailed | None:
    """The ScenarioFailed a dead-lettered message causes; None if it names no scenario.

    Its id derives from the message's place in the log, so every consumer group that
    dead-letters the same message emits the same event, which consumers dedupe to one.
    """
    sid = scenario_of(body, headers)
    if sid is None:
        return None
    with contextlib.suppress(ValidationError):
        _failed.validate_json(body)
        return None  # a valid failure rejected by a narrower consumer: failing again would loop
    return ScenarioFailed(
        event_id=derived_id(sid, "ScenarioFailed", "dlq", topic, partition, offset),
        scenario_id=sid,
        producer=consumer,
        stage=STAGE_OF_TOPIC.get(topic, Stage.STARTING).value,
        reason=(
            f"a message on {topic} (partition {partition}, offset {offset}) broke its contract"
            f" ({error[:300]}); it is kept in {dlq(topic)}: `cube dlq list` shows it,"
            " `cube dlq replay` re-sends it once fixed, then retry the scenario"
        ),
    )
