"""Composition root of the validator."""

import sys

from faststream import FastStream
from faststream.kafka.annotations import KafkaMessage
from pydantic import TypeAdapter

from cube_contracts import MONTH_COMPLETED, MonthCompleted, MonthFailed, MonthResult, MonthStarted
from cube_runtime.concurrency import LaterCommits
from cube_runtime.consume import parse_or_dead_letter, subscriber_options
from cube_runtime.retrying import patiently
from cube_runtime.service import build, doorbell
from cube_validator.analytics import AnalyticsPublisher
from cube_validator.prefetch import LedgerPrefetch
from cube_validator.settings import ValidatorSettings
from cube_validator.validation import on_month_result

_result: TypeAdapter[MonthResult] = TypeAdapter(MonthResult)


def create_app() -> FastStream:
    app, rt = build("validator", ValidatorSettings)
    # Numbers are checked in a thread while the loop takes month results: the loop gets the GIL
    # back within a millisecond, not Python's default five.
    sys.setswitchinterval(0.001)
    analytics = AnalyticsPublisher(rt.settings.require_broker(), rt.settings.cube_analytics_compression)
    app.on_startup(analytics.start)
    app.after_shutdown(analytics.stop)
    ahead = LedgerPrefetch(prepare=analytics.prepare)

    @app.after_startup
    async def _listen() -> None:
        await ahead.start(rt.pool)

    rt.shutdown_hooks.append(ahead.stop)

    # Month results are handled one at a time, in order; their offsets are committed while the
    # next ones are handled (a scenario's twelve months come in a burst).
    commits = LaterCommits()
    rt.shutdown_hooks.append(lambda: commits.drain(timeout=5.0))
    rt.positions.on_reset.append(commits.forget)
    subscriber = rt.broker.subscriber(
        MONTH_COMPLETED,
        **subscriber_options(
            rt.settings.cube_group_prefix + "validator",
            rt.settings.cube_fetch_max_wait_ms,
            manual=True,
            listener=rt.presence,
        ),
    )
    bell = doorbell(app, rt, subscriber, MONTH_COMPLETED)

    @subscriber
    async def on_month(msg: KafkaMessage) -> None:
        """Aggregate month results and validate finished scenarios."""
        with bell.handling():
            try:
                event = await parse_or_dead_letter(rt.broker, msg, _result, "validator")
                if isinstance(event, MonthStarted):
                    ahead.expect(event.scenario_id, event.months_total)
                if isinstance(event, MonthCompleted | MonthFailed):
                    await patiently(
                        lambda: on_month_result(rt.pool, rt.broker, analytics, event, ahead), "validate"
                    )
            except Exception:
                commits.handled(msg)  # a result that still fails after `patiently` is not taken again
                raise
            commits.handled(msg)

    return app
