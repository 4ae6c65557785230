"""Consumer positions past the end of their partition are read again from the start.

Kafka answers a fetch beyond a partition's end with OFFSET_OUT_OF_RANGE and the consumer resets
(auto_offset_reset). The embedded broker's memory-only build loses every log when it restarts,
and answers such a fetch with no records and no error: a consumer that had read to offset 400
would wait for offset 400 of the new, empty log forever. The guard notices a position beyond the
partition's high watermark and seeks to the beginning; consumers are idempotent, so reading a
partition again costs time, not correctness.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition

from cube_runtime.periodic import Periodic

log = logging.getLogger(__name__)


class PositionGuard(Periodic):
    name = "position-guard"
    error_level = logging.DEBUG  # a consumer between states: look again next time

    def __init__(self, broker: Any, interval: float = 1.0) -> None:
        self.broker = broker
        self.interval = interval
        self.on_reset: list[Callable[[TopicPartition], None]] = []

    async def tick(self) -> None:
        await self.check_once()

    async def check_once(self) -> list[TopicPartition]:
        """Seek every partition whose position is past its high watermark to its beginning."""
        reset = []
        for subscriber in list(self.broker.subscribers):
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            for tp in list(consumer.assignment()):
                high = consumer.highwater(tp)
                if high is None:
                    continue
                position = await asyncio.wait_for(consumer.position(tp), 2)
                if position <= high:
                    continue
                log.warning(
                    "position past the end of the partition (the broker lost its log); reading it from the start",
                    extra={"topic": tp.topic, "partition": tp.partition, "position": position, "end": high},
                )
                await consumer.seek_to_beginning(tp)
                for callback in self.on_reset:
                    callback(tp)
                reset.append(tp)
        return reset
