"""Plan one scenario: master data (stage 1), the monthly plan (stage 2), then fan out the months."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from cube_contracts import (
    MONTH_REQUESTED,
    SCENARIO_PLANNING,
    MasterData,
    MasterDataGenerated,
    PlanningFailed,
    PlanningStarted,
    ScenarioRequested,
    ScenarioSpec,
    TrendsGenerated,
    derived_id,
    month_key,
    scenario_key,
)
from cube_engine.base import PlansEarly
from cube_engine.selection import Engines
from cube_runtime.db import mark_processed
from cube_runtime.doorbell import publish_and_ring, ring
from cube_runtime.kafka import month_partition, publish
from cube_runtime.redrive import MASTER_STORED, PLANS_STORED, STORED_PLAN, month_request, stopped

log = logging.getLogger(__name__)
PRODUCER = "planner"


def _ms(since: float) -> int:
    return int((time.perf_counter() - since) * 1000)


async def plan(pool: asyncpg.Pool, broker: KafkaBroker, engines: Engines, event: ScenarioRequested) -> None:
    """Handle ScenarioRequested; a redelivery after success does nothing, after a crash redoes the work."""
    sid, spec = event.scenario_id, event.spec
    done, ended = await asyncio.gather(
        pool.fetchval(
            "SELECT 1 FROM processed_events WHERE consumer = $1 AND event_id = $2", PRODUCER, event.event_id
        ),
        stopped(pool, sid),
    )
    if done:
        return
    if ended:
        log.info("scenario has ended; not planned", extra={"scenario_id": str(sid)})
        await mark_done(pool, event.event_id)
        return
    key = scenario_key(sid)

    def ids(kind: str, *parts: object) -> dict[str, object]:
        # Re-planning after a crash emits the same ids, so downstream consumers dedupe them.
        return {
            "event_id": derived_id(sid, kind, event.attempt, *parts),
            "scenario_id": sid,
            "producer": PRODUCER,
        }

    # PlanningStarted goes out while master data is made; the next planning event waits for it.
    first = asyncio.ensure_future(
        _planning(pool, broker, PlanningStarted(**ids("PlanningStarted"), months_total=spec.months), key)
    )

    async def planning(stage: BaseModel) -> None:
        await first
        await _planning(pool, broker, stage, key)

    try:
        await _stages(pool, broker, engines, event, ids, planning)
    except BaseException:  # redelivered, it is announced again (with the same id)
        first.cancel()
        await asyncio.wait([first])
        if not first.cancelled():
            first.exception()  # looked at: the error that ended the stages is the one raised
        raise
    await first


async def _stages(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    engines: Engines,
    event: ScenarioRequested,
    ids: Callable[..., dict[str, object]],
    planning: Callable[[BaseModel], Awaitable[None]],
) -> None:
    """Master data, the plans, and the months requested; `planning` publishes a planning event."""
    sid, spec = event.scenario_id, event.spec
    requested = False  # months requested with early plans, before the full ones are stored
    try:
        engine = engines.for_spec(spec)
        started = time.perf_counter()
        master = await engine.master_data(sid, spec)
        # An engine that plans early starts on the plan (and its story) while master data is stored.
        early_plan = None
        if isinstance(engine, PlansEarly):
            early_plan = asyncio.ensure_future(engine.plan_early(sid, spec, master))
        try:
            await store_master(pool, sid, master)
            counts = {k: len(v) for k, v in master if isinstance(v, list)}
            await planning(
                MasterDataGenerated(
                    **ids("MasterDataGenerated"),
                    entity_counts=counts,
                    duration_ms=_ms(started),
                    usage=engines.usage(spec, sid, "master_data"),
                )
            )
        except BaseException:
            if early_plan is not None:
                await _abandon(early_plan)
            raise
        started = time.perf_counter()
        if early_plan is not None:
            early, full = await early_plan
            try:  # the months start on their numbers while the story is written, and the
                # numbers are stored meanwhile: once the story is in, only the story is written
                requested = await _request_months(pool, broker, sid, spec, early, event.attempt, early=True)
                await _store_plans(pool, sid, early, complete=False)
            except BaseException:
                full.cancel()
                raise
            plans = await full
            await _complete_plans(pool, sid, early, plans)
        else:
            plans = await engine.plan_months(sid, spec, master)
            await _store_plans(pool, sid, plans)
        await planning(
            TrendsGenerated(
                **ids("TrendsGenerated"),
                months_total=spec.months,
                duration_ms=_ms(started),
                usage=engines.usage(spec, sid, "trends"),
            )
        )
    except (ValueError, RuntimeError) as exc:
        log.warning("planning failed", extra={"scenario_id": str(sid), "error": str(exc)})
        await planning(PlanningFailed(**ids("PlanningFailed"), reason=str(exc)))
        await mark_done(pool, event.event_id)
        return
    if not requested:
        await _request_months(pool, broker, sid, spec, plans, event.attempt)
    await mark_done(pool, event.event_id)


async def store_master(pool: asyncpg.Pool, sid: UUID, master: MasterData) -> None:
    """Store (or replace) the scenario's master data and tell the month-workers (MASTER_STORED),
    which read it then. Serialized once, by pydantic: this runs before the story's call goes out."""
    await pool.execute(
        "WITH stored AS (INSERT INTO master_data (scenario_id, data) VALUES ($1, $2::text::jsonb)"
        " ON CONFLICT (scenario_id) DO UPDATE SET data = EXCLUDED.data RETURNING scenario_id)"
        " SELECT pg_notify($3, scenario_id::text) FROM stored",
        sid,
        master.model_dump_json(),
        MASTER_STORED,
    )


async def _planning(pool: asyncpg.Pool, broker: KafkaBroker, event: BaseModel, key: bytes) -> None:
    """Publish a planning stage's event, and ring the doorbell of its consumers."""
    await publish_and_ring(pool, broker, SCENARIO_PLANNING, event, key)


async def _abandon(early_plan: "asyncio.Future[tuple[list[dict[str, Any]], asyncio.Future[Any]]]") -> None:
    """Stop an early plan that will not be used, and the story it is writing."""
    early_plan.cancel()
    with contextlib.suppress(BaseException):
        _, full = await early_plan
        full.cancel()


async def _request_months(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    sid: UUID,
    spec: ScenarioSpec,
    plans: list[dict[str, Any]],
    attempt: int,
    *,
    early: bool = False,
) -> bool:
    """Send a MonthRequested per month, all at once (the producer batches them, and the first
    month starts no later than the last). False, sending nothing, for a scenario that has ended
    (cancelled while it was planned) or for `early` plans too large to travel in the message."""
    requests = [month_request(sid, spec, m, p, attempt, PRODUCER) for m, p in enumerate(plans, start=1)]
    if early and any(STORED_PLAN in r.plan for r in requests):
        return False
    if await stopped(pool, sid):
        return False
    await asyncio.gather(
        *(
            publish(broker, MONTH_REQUESTED, r, month_key(sid, r.month), month_partition(sid, r.month))
            for r in requests
        )
    )
    await ring(pool, MONTH_REQUESTED)
    return True


async def _store_plans(
    pool: asyncpg.Pool, sid: UUID, plans: list[dict[str, Any]], *, complete: bool = True
) -> None:
    """Store the plans; complete ones are announced to the month-workers waiting for them
    (PLANS_STORED), early ones wait for `_complete_plans`."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM month_plans WHERE scenario_id = $1", sid)
        await conn.copy_records_to_table(
            "month_plans",
            records=[(sid, month, p, complete) for month, p in enumerate(plans, start=1)],
            columns=["scenario_id", "month", "plan", "complete"],
        )
        if complete:
            await conn.execute("SELECT pg_notify($1, $2)", PLANS_STORED, str(sid))


async def _complete_plans(
    pool: asyncpg.Pool, sid: UUID, early: list[dict[str, Any]], plans: list[dict[str, Any]]
) -> None:
    """Complete the early plans stored with what the full plans added to them (the story, a few
    kB, where the numbers are hundreds), and announce them (PLANS_STORED)."""
    if len(early) != len(plans) or any(
        k not in full for was, full in zip(early, plans, strict=True) for k in was
    ):
        await _store_plans(pool, sid, plans)  # not the early plans with parts added
        return
    later = [
        {k: v for k, v in full.items() if k not in was or was[k] != v}
        for was, full in zip(early, plans, strict=True)
    ]
    async with pool.acquire() as conn, conn.transaction():
        done = await conn.fetchval(
            """
            WITH done AS (
                UPDATE month_plans p SET later = l.later, complete = true
                FROM unnest($2::int[], $3::jsonb[]) AS l(month, later)
                WHERE p.scenario_id = $1 AND p.month = l.month
                RETURNING 1
            )
            SELECT count(*) FROM done
            """,
            sid,
            list(range(1, len(later) + 1)),
            later,
        )
        if done == len(plans):
            await conn.execute("SELECT pg_notify($1, $2)", PLANS_STORED, str(sid))
            return
    await _store_plans(pool, sid, plans)  # the early plans were not all there: the full ones


async def mark_done(pool: asyncpg.Pool, event_id: UUID) -> None:
    async with pool.acquire() as conn:
        await mark_processed(conn, PRODUCER, event_id)
