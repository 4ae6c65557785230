"""Publishing a validated scenario to `analytics.business-events`, batched.

One message per business event, key = scenario id (so one scenario's events keep their
order on one partition). Batches go out whole instead of one send per event, which is what
makes tens of thousands of events a matter of milliseconds.
"""

import asyncio
from uuid import UUID

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from cube_contracts import ANALYTICS_BUSINESS_EVENTS, REFERENCE_FIELDS, BusinessEvent, scenario_key


def to_json(event: BusinessEvent) -> bytes:
    """The API.md shape of a business event; orjson, since every event of a year goes through it."""
    return orjson.dumps(
        {
            "event_id": str(event.event_id), "scenario_id": str(event.scenario_id), "month": event.month,
            "occurred_at": event.occurred_at.isoformat(), "event_type": event.event_type,
            "amount": None if event.amount is None else f"{event.amount:.2f}", "currency": event.currency,
            **{ref: getattr(event, ref) for ref in REFERENCE_FIELDS}, "attributes": event.attributes,
        },
        default=str,
    )  # fmt: skip


class AnalyticsPublisher:
    """A producer of its own for the analytics topic."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._started: AIOKafkaProducer | None = None

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._started is None:
            raise RuntimeError("analytics producer used before start-up")
        return self._started

    async def start(self) -> None:
        # aiokafka binds a producer to the running loop, so it is made here, not in __init__.
        self._started = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap.split(","), acks="all", linger_ms=2, max_batch_size=1024 * 1024,
            max_request_size=4 * 1024 * 1024, client_id="cube-validator-analytics",
        )  # fmt: skip
        await self._started.start()

    async def stop(self) -> None:
        if self._started is not None:
            await self._started.stop()

    async def publish(self, scenario_id: UUID, events: list[BusinessEvent]) -> int:
        """Send every event and wait until the broker has confirmed all of them."""
        key = scenario_key(scenario_id)
        partitions = sorted(await self._producer.partitions_for(ANALYTICS_BUSINESS_EVENTS))
        partition = DefaultPartitioner()(key, partitions, partitions)
        headers_base = [("scenario_id", str(scenario_id).encode())]
        pending = []
        batch = self._producer.create_batch()
        for event in events:
            value = to_json(event)
            headers = [*headers_base, ("event_type", event.event_type.encode())]
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                pending.append(
                    await self._producer.send_batch(batch, ANALYTICS_BUSINESS_EVENTS, partition=partition)
                )
                batch = self._producer.create_batch()
                batch.append(key=key, value=value, timestamp=None, headers=headers)
        if batch.record_count():
            pending.append(
                await self._producer.send_batch(batch, ANALYTICS_BUSINESS_EVENTS, partition=partition)
            )
        await asyncio.gather(*pending)
        return len(events)
