"""Render one month: MonthStarted, the events stored, then MonthCompleted or MonthFailed."""

import logging
import time

import asyncpg
from faststream.kafka import KafkaBroker

from cube_contracts import (
    MONTH_COMPLETED,
    MonthCompleted,
    MonthFailed,
    MonthRequested,
    MonthStarted,
    derived_id,
)
from cube_contracts.topics import scenario_key
from cube_engine import content_hash
from cube_engine.selection import Engines
from cube_month_worker.store import MasterDataCache, load_plan, replace_month
from cube_runtime.logs import scenario_var

log = logging.getLogger(__name__)
PRODUCER = "month-worker"
STORED_PLAN = "$stored"  # the planner kept a large plan in month_plans


async def render(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    engines: Engines,
    cache: MasterDataCache,
    req: MonthRequested,
    worker: str,
) -> None:
    """Handle MonthRequested."""
    sid, month = req.scenario_id, req.month
    scenario_var.set(str(sid))
    key = scenario_key(sid)
    base = {"scenario_id": sid, "producer": PRODUCER, "month": month, "months_total": req.months_total}
    await publish_result(
        broker,
        MonthStarted(**base, event_id=derived_id(sid, "MonthStarted", month, req.attempt), worker=worker),
        key,
    )
    started = time.perf_counter()
    try:
        master = await cache.get(pool, sid)
        plan = req.plan
        if plan.get(STORED_PLAN):
            plan = await load_plan(pool, sid, month)
        events = await engines.for_spec(req.spec).render_month(sid, req.spec, master, month, plan)
        await replace_month(pool, sid, month, events)
    except (ValueError, LookupError, RuntimeError) as exc:
        engines.usage(req.spec, sid, f"month:{month}")  # spent all the same; the retry starts afresh
        log.warning("month failed", extra={"month": month, "error": str(exc)})
        failed = MonthFailed(
            **base, event_id=derived_id(sid, "MonthFailed", month, req.attempt), reason=str(exc)
        )
        await publish_result(broker, failed, key)
        return
    done = MonthCompleted(
        **base,
        event_id=derived_id(sid, "MonthCompleted", month, req.attempt),
        event_count=len(events),
        content_hash=content_hash(events),
        duration_ms=int((time.perf_counter() - started) * 1000),
        usage=engines.usage(req.spec, sid, f"month:{month}"),
    )
    await publish_result(broker, done, key)
    log.info("month stored", extra={"month": month, "events": len(events), "ms": done.duration_ms})


async def publish_result(
    broker: KafkaBroker, event: MonthStarted | MonthCompleted | MonthFailed, key: bytes
) -> None:
    from cube_runtime.kafka import publish

    await publish(broker, MONTH_COMPLETED, event, key)
