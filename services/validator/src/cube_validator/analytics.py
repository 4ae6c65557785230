"""Publishing a validated scenario to `analytics.business-events`, batched.

One message per business event, key = scenario id (so one scenario's events keep their
order on one partition). Batches go out whole instead of one send per event, which is what
makes tens of thousands of events a matter of milliseconds.
"""

import asyncio
from typing import NamedTuple
from uuid import UUID

import asyncpg
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


# The same JSON as `to_json`, rendered by PostgreSQL, on its own core, while the checks run.
# (attributes keep jsonb's key order.)
PUBLISHED_FORM = f"""
SELECT event_id, event_type, json_build_object(
    'event_id', event_id, 'scenario_id', scenario_id, 'month', month,
    'occurred_at', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN date_part('microseconds', occurred_at)::bigint % 1000000 <> 0
                THEN to_char(occurred_at AT TIME ZONE 'UTC', '.US') ELSE '' END || '+00:00',
    'event_type', event_type, 'amount', amount::text, 'currency', currency,
    {", ".join(f"'{ref}', {ref}" for ref in REFERENCE_FIELDS)}, 'attributes', attributes
)::text AS value
FROM business_events WHERE scenario_id = $1 ORDER BY month, seq
"""


class Published(NamedTuple):
    event_id: UUID
    event_type: str
    value: bytes


async def published_form(pool: asyncpg.Pool, scenario_id: UUID) -> list[Published]:
    """Every event of the scenario as the analytics topic carries it, in order."""
    rows = await pool.fetch(PUBLISHED_FORM, scenario_id)
    return [Published(r["event_id"], r["event_type"], r["value"].encode()) for r in rows]


def as_published(events: list[BusinessEvent]) -> list[Published]:
    return [Published(e.event_id, e.event_type, to_json(e)) for e in events]


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

    async def publish(self, scenario_id: UUID, events: list[BusinessEvent] | list[Published]) -> int:
        """Send every event and wait until the broker has confirmed all of them."""
        key = scenario_key(scenario_id)
        partitions = sorted(await self._producer.partitions_for(ANALYTICS_BUSINESS_EVENTS))
        partition = DefaultPartitioner()(key, partitions, partitions)
        headers_base = [("scenario_id", str(scenario_id).encode())]
        pending = []
        batch = self._producer.create_batch()
        for item in events:
            value = item.value if isinstance(item, Published) else to_json(item)
            headers = [*headers_base, ("event_type", item.event_type.encode())]
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
