"""Composition root of the planner."""

from faststream import FastStream
from faststream.kafka.annotations import KafkaMessage
from pydantic import TypeAdapter

from cube_contracts import SCENARIO_REQUESTED, ScenarioRequested
from cube_engine.selection import Engines
from cube_planner.planning import plan
from cube_planner.settings import PlannerSettings
from cube_runtime.concurrency import ConcurrentCommitter
from cube_runtime.consume import parse_or_dead_letter, subscriber_options
from cube_runtime.retrying import patiently
from cube_runtime.service import build, doorbell

_request = TypeAdapter(ScenarioRequested)


def create_app() -> FastStream:
    app, rt = build("planner", PlannerSettings)
    engines = Engines(rt.settings.cube_sim_latency, rt.settings)
    # Planning waits on the engine (an LLM in the claude engine): run several at once.
    committer = ConcurrentCommitter(rt.settings.cube_planner_concurrency)
    rt.shutdown_hooks.append(lambda: committer.drain(timeout=6.0))
    rt.positions.on_reset.append(committer.forget)

    subscriber = rt.broker.subscriber(
        SCENARIO_REQUESTED,
        **subscriber_options(
            rt.settings.cube_group_prefix + "planner",
            rt.settings.cube_fetch_max_wait_ms,
            manual=True,
            listener=rt.presence,
        ),
    )
    bell = doorbell(app, rt, subscriber, SCENARIO_REQUESTED)

    @subscriber
    async def on_scenario_requested(msg: KafkaMessage) -> None:
        """Plan a requested scenario."""
        with bell.handling():
            event = await parse_or_dead_letter(rt.broker, msg, _request, "planner")
            job = (
                (lambda: patiently(lambda: plan(rt.pool, rt.broker, engines, event), "plan"))
                if event
                else None
            )
            await committer.submit_message(msg, job)

    return app
