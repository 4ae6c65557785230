"""Publishing a validated scenario to `analytics.business-events`, batched.

One message per business event, key = scenario id, so a scenario's events are on one partition in
one order: its numbers month by month, then its text month by month. Batches go out whole instead
of one send per event, which is what makes tens of thousands of events a matter of milliseconds;
the numbers' batches are made while the text is still being written (`prepare`), so that after
the last month only the text is left to batch.
"""

import asyncio
from typing import TYPE_CHECKING, NamedTuple
from uuid import UUID

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from cube_contracts import ANALYTICS_BUSINESS_EVENTS, REFERENCE_FIELDS, BusinessEvent, scenario_key

if TYPE_CHECKING:
    from cube_validator.prefetch import Ledger


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


# The same JSON as `to_json`, rendered by PostgreSQL, on its own core (attributes keep jsonb's
# key order): for a month's numbers when they are read ahead, for the rest while the checks run.
PUBLISHED_VALUE = f"""json_build_object(
    'event_id', event_id, 'scenario_id', scenario_id, 'month', month,
    'occurred_at', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN date_part('microseconds', occurred_at)::bigint % 1000000 <> 0
                THEN to_char(occurred_at AT TIME ZONE 'UTC', '.US') ELSE '' END || '+00:00',
    'event_type', event_type, 'amount', amount::text, 'currency', currency,
    {", ".join(f"'{ref}', {ref}" for ref in REFERENCE_FIELDS)}, 'attributes', attributes
)::text"""

# Rows of business_events `e` that are not among the first $3[i] events of month $2[i].
NOT_READ_AHEAD = (
    "NOT EXISTS (SELECT 1 FROM unnest($2::int[], $3::int[]) AS l(month, upto)"
    " WHERE l.month = e.month AND e.seq < l.upto)"
)


class Published(NamedTuple):
    event_id: UUID
    event_type: str
    value: bytes


class Prepared(NamedTuple):
    """Events in batches made and compressed ahead of their publication (`AnalyticsPublisher.prepare`)."""

    event_ids: list[UUID]
    batches: list[BatchBuilder]


async def published_form(
    pool: asyncpg.Pool, scenario_id: UUID, ahead: "dict[int, Ledger] | None" = None
) -> list[Published]:
    """Every event of the scenario as the analytics topic carries it, in order; the months' first
    events from `ahead` where they were read ahead."""
    have = ahead or {}
    months = sorted(have)
    rows = await pool.fetch(
        f"SELECT month, event_id, event_type, {PUBLISHED_VALUE} AS value FROM business_events e"
        f" WHERE scenario_id = $1 AND {NOT_READ_AHEAD} ORDER BY month, seq",
        scenario_id,
        months,
        [have[m].size for m in months],
    )
    by_month: dict[int, list[Published]] = {m: list(have[m].published) for m in months}
    for r in rows:
        by_month.setdefault(r["month"], []).append(
            Published(r["event_id"], r["event_type"], r["value"].encode())
        )
    return [p for month in sorted(by_month) for p in by_month[month]]


def as_published(events: list[BusinessEvent]) -> list[Published]:
    return [Published(e.event_id, e.event_type, to_json(e)) for e in events]


class AnalyticsPublisher:
    """A producer of its own for the analytics topic."""

    def __init__(self, bootstrap: str, compression: str = "zstd") -> None:
        self._bootstrap = bootstrap
        # Compressed, a year of events is a tenth of the bytes to send, for the broker to take in
        # and to hold (the embedded one holds topics in memory); zstd takes the least time.
        self._compression = None if compression == "none" else compression
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
            compression_type=self._compression,
        )  # fmt: skip
        await self._started.start()

    async def stop(self) -> None:
        if self._started is not None:
            await self._started.stop()

    def prepare(self, scenario_id: UUID, events: list[Published]) -> Prepared:
        """`events` made into batches and compressed, ready to go out before the events published
        with them (sync: it may run in a thread, while the rest of the scenario is still made)."""
        batches = self._fill(scenario_id, events)
        for batch in batches:
            batch._build()  # compressed now; the producer sends the bytes built here
        return Prepared([e.event_id for e in events], batches)

    async def publish(
        self,
        scenario_id: UUID,
        events: list[BusinessEvent] | list[Published],
        ahead: Prepared | None = None,
    ) -> int:
        """Send the batches prepared `ahead`, then every event of `events`, and wait until the
        broker has confirmed all of them."""
        partitions = sorted(await self._producer.partitions_for(ANALYTICS_BUSINESS_EVENTS))
        partition = DefaultPartitioner()(scenario_key(scenario_id), partitions, partitions)
        pending = []
        for batch in [*(ahead.batches if ahead is not None else []), *self._fill(scenario_id, events)]:
            pending.append(
                await self._producer.send_batch(batch, ANALYTICS_BUSINESS_EVENTS, partition=partition)
            )
        await asyncio.gather(*pending)
        return len(events) + (len(ahead.event_ids) if ahead is not None else 0)

    def _fill(self, scenario_id: UUID, events: list[BusinessEvent] | list[Published]) -> list[BatchBuilder]:
        """The events' messages in batches, in order: as many as the producer's batch size needs."""
        key = scenario_key(scenario_id)
        sid = ("scenario_id", str(scenario_id).encode())
        by_type: dict[str, list[tuple[str, bytes]]] = {}  # the headers of each event type, made once
        batches = [self._producer.create_batch()]
        for item in events:
            value = item.value if isinstance(item, Published) else to_json(item)
            headers = by_type.get(item.event_type)
            if headers is None:
                headers = by_type[item.event_type] = [sid, ("event_type", item.event_type.encode())]
            if batches[-1].append(key=key, value=value, timestamp=None, headers=headers) is None:
                batches.append(self._producer.create_batch())
                batches[-1].append(key=key, value=value, timestamp=None, headers=headers)
        return [b for b in batches if b.record_count()]
