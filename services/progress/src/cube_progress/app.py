"""Composition root of the progress service."""

from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from cube_contracts import (
    MONTH_COMPLETED,
    MONTH_REQUESTED,
    SCENARIO_LIFECYCLE,
    SCENARIO_PLANNING,
    SCENARIO_REQUESTED,
    Envelope,
)
from cube_contracts.events import pipeline_event
from cube_progress.reconciler import Reconciler
from cube_progress.settings import ProgressSettings
from cube_progress.store import CONSUMER, project_many
from cube_runtime.consume import parse_record_or_dead_letter, subscriber_options
from cube_runtime.retrying import patiently
from cube_runtime.service import build, doorbell

TOPICS = (SCENARIO_REQUESTED, SCENARIO_PLANNING, MONTH_REQUESTED, MONTH_COMPLETED, SCENARIO_LIFECYCLE)
# Records projected in one transaction at most; a scenario's bursts are a dozen events each.
MAX_RECORDS = 500


async def project_records(
    broker: KafkaBroker, pool: asyncpg.Pool, records: Iterable[ConsumerRecord[Any, Any]]
) -> int:
    """Project a fetched batch; a record that breaks its contract goes to its DLQ, once the
    others are applied. The number of events that were new."""
    events: list[Envelope] = []
    broken = []
    for record in records:
        try:
            events.append(pipeline_event.validate_json(record.value or b""))
        except ValidationError:
            broken.append(record)
    # A batch that fails is applied again whole: the events it had applied are skipped as duplicates.
    new = await patiently(lambda: project_many(pool, events), "project")
    for record in broken:
        await parse_record_or_dead_letter(broker, record, pipeline_event, CONSUMER)
    return new


def _records(msg: KafkaMessage) -> Sequence[ConsumerRecord[Any, Any]]:
    records: Sequence[ConsumerRecord[Any, Any]] = msg.raw_message  # a batch subscriber's: a tuple
    return records


async def _undecoded(msg: KafkaMessage) -> None:
    """No decoding: `project_records` parses each record against its contract, once."""


def create_app() -> FastStream:
    app, rt = build("progress", ProgressSettings)
    s = rt.settings
    reconciler: list[Reconciler] = []

    @app.after_startup
    async def _watch() -> None:
        reconciler.append(
            Reconciler(
                rt.pool,
                s.require_broker(),
                s.cube_reconcile_interval_s,
                s.cube_stage_deadline_s,
                s.cube_redrive_limit,
                s.cube_llm_stage_deadline_s,
            )
        )
        await reconciler[0].start()

    async def _unwatch() -> None:
        for r in reconciler:
            await r.stop()

    rt.shutdown_hooks.append(_unwatch)

    # One transaction and one offset commit per fetched batch, not per event: a scenario's events
    # come in bursts (twelve months requested at once, then twelve started, twelve completed).
    subscriber = rt.broker.subscriber(
        *TOPICS,
        batch=True,
        max_records=MAX_RECORDS,
        batch_timeout_ms=s.cube_progress_fetch_max_wait_ms,
        decoder=_undecoded,
        **subscriber_options(
            s.cube_group_prefix + "progress",
            s.cube_progress_fetch_max_wait_ms,
            listener=rt.presence,
        ),
    )
    # Between the bursts it pauses; every publisher of these topics rings.
    bell = doorbell(app, rt, subscriber, *TOPICS)

    @subscriber
    async def on_pipeline_events(msg: KafkaMessage) -> None:
        """Project a batch of pipeline events into the status table."""
        with bell.handling():
            await project_records(rt.broker, rt.pool, _records(msg))

    return app
