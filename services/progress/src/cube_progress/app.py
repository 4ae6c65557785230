"""Composition root of the progress service."""

from faststream import FastStream
from faststream.kafka.annotations import KafkaMessage

from cube_contracts import (
    MONTH_COMPLETED,
    MONTH_REQUESTED,
    SCENARIO_LIFECYCLE,
    SCENARIO_PLANNING,
    SCENARIO_REQUESTED,
)
from cube_contracts.events import pipeline_event
from cube_progress.reconciler import Reconciler
from cube_progress.settings import ProgressSettings
from cube_progress.store import project
from cube_runtime.consume import parse_or_dead_letter, subscriber_options
from cube_runtime.retrying import patiently
from cube_runtime.service import build

TOPICS = (SCENARIO_REQUESTED, SCENARIO_PLANNING, MONTH_REQUESTED, MONTH_COMPLETED, SCENARIO_LIFECYCLE)


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

    @rt.broker.subscriber(
        *TOPICS,
        **subscriber_options(
            rt.settings.cube_group_prefix + "progress",
            rt.settings.cube_progress_fetch_max_wait_ms,
            listener=rt.presence,
        ),
    )
    async def on_pipeline_event(msg: KafkaMessage) -> None:
        """Project a pipeline event into the status table."""
        event = await parse_or_dead_letter(rt.broker, msg, pipeline_event, "progress")
        if event is not None:
            await patiently(lambda: project(rt.pool, event), "project")

    return app
