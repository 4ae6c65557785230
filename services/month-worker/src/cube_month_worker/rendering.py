"""Render one month: MonthStarted, the events stored, then MonthCompleted or MonthFailed."""

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

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
from cube_engine.base import Replanned
from cube_engine.selection import Engines
from cube_engine.simulated import ContentHash
from cube_month_worker.store import (
    Abandoned,
    MasterDataCache,
    PlanWatch,
    add_to_month,
    load_plan,
    replace_month,
)
from cube_runtime.doorbell import publish_and_ring
from cube_runtime.logs import scenario_var
from cube_runtime.redrive import STORED_PLAN, stopped

log = logging.getLogger(__name__)
PRODUCER = "month-worker"


async def render(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    engines: Engines,
    cache: MasterDataCache,
    req: MonthRequested,
    worker: str,
    retries: int = 2,
    timeout: float = 300.0,
    *,
    watch: PlanWatch,
) -> None:
    """Handle MonthRequested: render and store the month, retrying a failure with backoff."""
    sid, month = req.scenario_id, req.month
    scenario_var.set(str(sid))
    if await stopped(pool, sid):
        log.info("scenario has ended; month skipped", extra={"month": month})
        return
    key = scenario_key(sid)
    base = {"scenario_id": sid, "producer": PRODUCER, "month": month, "months_total": req.months_total}
    # MonthStarted goes out while the month renders; it is confirmed before the month's result.
    announced = asyncio.ensure_future(
        publish_result(
            pool,
            broker,
            MonthStarted(**base, event_id=derived_id(sid, "MonthStarted", month, req.attempt), worker=worker),
            key,
        )
    )
    try:
        await _render_with_retries(
            pool, broker, engines, cache, req, base, key, retries, timeout, announced, watch
        )
    finally:
        if not announced.done():
            announced.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await announced


async def _render_with_retries(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    engines: Engines,
    cache: MasterDataCache,
    req: MonthRequested,
    base: dict[str, Any],
    key: bytes,
    retries: int,
    timeout: float,
    announced: "asyncio.Future[None]",
    watch: PlanWatch,
) -> None:
    sid, month = req.scenario_id, req.month
    started = time.perf_counter()
    tries = retries + 1
    for n in range(1, tries + 1):
        try:
            events, digest = await asyncio.wait_for(
                _render_and_store(pool, engines, cache, req, watch, timeout), timeout
            )
            break
        except Abandoned:
            log.info("scenario ended while its month was rendered; abandoned", extra={"month": month})
            return
        except (ValueError, LookupError, RuntimeError, TimeoutError) as exc:
            error = f"timed out after {timeout:.0f} s" if isinstance(exc, TimeoutError) else str(exc)
            engines.usage(req.spec, sid, f"month:{month}")  # spent all the same; the retry starts afresh
            if n < tries:
                delay = min(10.0, 0.5 * 2 ** (n - 1)) * (0.5 + random.random())
                log.warning("month failed; retrying", extra={"month": month, "error": error, "try": n})
                await asyncio.sleep(delay)
                continue
            log.warning("month failed", extra={"month": month, "error": error, "tries": n})
            reason = f"{error} (after {n} attempt{'s' if n > 1 else ''})"
            failed = MonthFailed(
                **base, event_id=derived_id(sid, "MonthFailed", month, req.attempt), reason=reason
            )
            await announced
            await publish_result(pool, broker, failed, key)
            return
    done = MonthCompleted(
        **base,
        event_id=derived_id(sid, "MonthCompleted", month, req.attempt),
        event_count=len(events),
        content_hash=digest,
        duration_ms=int((time.perf_counter() - started) * 1000),
        usage=engines.usage(req.spec, sid, f"month:{month}"),
    )
    await announced
    await publish_result(pool, broker, done, key)
    log.info("month stored", extra={"month": month, "events": len(events), "ms": done.duration_ms})


async def _render_and_store(
    pool: asyncpg.Pool,
    engines: Engines,
    cache: MasterDataCache,
    req: MonthRequested,
    watch: PlanWatch,
    timeout: float,
) -> tuple[list[Any], str]:
    """The month's events, stored, and their content hash."""
    sid, month = req.scenario_id, req.month
    plan = req.plan
    if plan.get(STORED_PLAN):
        plan = await load_plan(pool, sid, month)
    engine = engines.for_spec(req.spec)

    async def later() -> dict[str, Any]:
        return {**plan, **await watch.plan(pool, sid, month, timeout)}

    kept: list[tuple[int, ContentHash]] = []  # the month's first events stored already, and their hash

    async def keep(ledger: list[Any]) -> None:
        await replace_month(pool, sid, month, ledger, ahead=True)
        kept.append((len(ledger), ContentHash(ledger)))

    async def render() -> list[Any]:
        master = await cache.get(pool, sid)
        return await engine.render_month(sid, req.spec, master, month, plan, later, keep)

    async def drop_kept() -> None:
        if kept:
            await pool.execute(
                "DELETE FROM business_events WHERE scenario_id = $1 AND month = $2", sid, month
            )

    try:
        try:
            events = await render()
        except Replanned:
            cache.forget(sid)  # the master data read may be the stale one: read it again, once
            kept.clear()
            events = await render()
    except Replanned as exc:  # the new planning requests the month again and writes it over
        log.info("month request is stale: the scenario was planned again", extra={"month": month})
        raise Abandoned from exc
    except Abandoned:  # the scenario ended while the month waited for its story: nothing is kept
        await drop_kept()
        raise
    # Asked before anything is written, not while: a duplicate of a month whose scenario has
    # completed must leave the month as it was validated, not write it and take it out again.
    if await stopped(pool, sid):  # ended meanwhile: nothing of this delivery is kept
        await drop_kept()
        raise Abandoned
    if kept:
        stored, hashed = kept[-1]
        await add_to_month(pool, sid, month, events[stored:], stored)
        digest = hashed.copy()
        digest.update(events[stored:])
        return events, digest.hexdigest()
    await replace_month(pool, sid, month, events)
    return events, content_hash(events)


async def publish_result(
    pool: asyncpg.Pool, broker: KafkaBroker, event: MonthStarted | MonthCompleted | MonthFailed, key: bytes
) -> None:
    """Publish a month's start or result, and ring the validator's doorbell."""
    await publish_and_ring(pool, broker, MONTH_COMPLETED, event, key)
