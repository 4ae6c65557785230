"""Composition root of a month-worker."""

import sys

from faststream import FastStream
from faststream.kafka.annotations import KafkaMessage
from pydantic import TypeAdapter

from cube_contracts import MONTH_REQUESTED, MonthRequested
from cube_engine.selection import Engines
from cube_month_worker.rendering import render
from cube_month_worker.settings import WorkerSettings
from cube_month_worker.store import MasterDataCache, PlanWatch
from cube_runtime.concurrency import ConcurrentCommitter
from cube_runtime.consume import parse_or_dead_letter, subscriber_options
from cube_runtime.retrying import patiently
from cube_runtime.service import build, doorbell

_request = TypeAdapter(MonthRequested)


def create_app() -> FastStream:
    settings_cls = WorkerSettings
    app, rt = build("month-worker", settings_cls, pool_size=20)
    # Months are simulated in a thread while the loop sends other months' calls: the loop gets
    # the GIL back within a millisecond, not Python's default five.
    sys.setswitchinterval(0.001)
    engines = Engines(rt.settings.cube_sim_latency, rt.settings)
    cache = MasterDataCache()
    watch = PlanWatch()

    @app.after_startup
    async def _listen() -> None:
        await watch.start(rt.pool)
        await cache.listen(rt.pool)

    rt.shutdown_hooks.append(watch.stop)
    rt.shutdown_hooks.append(cache.stop)
    # One consumer per process; months wait on the engine, so several run at once and the
    # committer only commits a partition up to its oldest unfinished month.
    committer = ConcurrentCommitter(rt.settings.cube_month_concurrency)
    rt.shutdown_hooks.append(lambda: committer.drain(timeout=6.0))
    rt.positions.on_reset.append(committer.forget)
    options = subscriber_options(
        rt.settings.cube_group_prefix + "month-worker",
        rt.settings.cube_fetch_max_wait_ms,
        manual=True,
        listener=rt.presence,
    )
    subscriber = rt.broker.subscriber(MONTH_REQUESTED, **options)
    bell = doorbell(app, rt, subscriber, MONTH_REQUESTED)

    @subscriber
    async def on_month_requested(msg: KafkaMessage) -> None:
        """Render a requested month."""
        with bell.handling():
            req = await parse_or_dead_letter(rt.broker, msg, _request, "month-worker")
            s = rt.settings

            async def job() -> None:
                assert req is not None
                await patiently(
                    lambda: render(
                        rt.pool,
                        rt.broker,
                        engines,
                        cache,
                        req,
                        s.cube_worker_id,
                        s.cube_month_retries,
                        s.cube_month_timeout_s,
                        watch=watch,
                    ),
                    "render",
                )

            await committer.submit_message(msg, job if req else None)

    return app
