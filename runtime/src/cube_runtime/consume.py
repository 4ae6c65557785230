"""Parsing consumed messages: a message that breaks its contract goes to `<topic>.dlq`."""

import logging
from typing import Any, TypeVar

from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from pydantic import TypeAdapter, ValidationError

from cube_contracts.topics import dlq

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
    """The parsed event, or None after sending the raw message to its DLQ with error headers."""
    try:
        return adapter.validate_json(msg.body)
    except ValidationError as exc:
        raw: Any = msg.raw_message
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
        await broker.publish(msg.body, dlq(raw.topic), key=raw.key, headers=headers)
        log.error(
            "poison message sent to the dead-letter topic",
            extra={
                "topic": raw.topic,
                "partition": raw.partition,
                "offset": raw.offset,
                "error": error[:300],
            },
        )
        return None
