"""Aggregate month results; when all are in, validate once, publish, and end the scenario."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from cube_contracts import (
    SCENARIO_LIFECYCLE,
    BusinessEvent,
    MasterData,
    MonthCompleted,
    MonthFailed,
    ScenarioCompleted,
    ScenarioFailed,
    ScenarioSpec,
    Stage,
    ValidationStarted,
    derived_id,
    scenario_key,
)
from cube_engine import ValidationReport, validate
from cube_engine.validation import with_text
from cube_engine.validation.text import TEXT_EVENT_TYPES, split
from cube_runtime.doorbell import publish_and_ring
from cube_runtime.logs import scenario_var
from cube_runtime.redrive import stopped
from cube_validator import repository as repo
from cube_validator.analytics import AnalyticsPublisher, Prepared, Published, as_published, published_form
from cube_validator.prefetch import Checked, Ledger, LedgerPrefetch

log = logging.getLogger(__name__)
PRODUCER = "validator"


async def on_month_result(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    analytics: AnalyticsPublisher,
    event: MonthCompleted | MonthFailed,
    ahead: LedgerPrefetch | None = None,
) -> None:
    """Handle MonthCompleted / MonthFailed; duplicates neither re-run the checks nor re-publish.
    `ahead` holds the months' numbers read while their text was written."""
    sid = event.scenario_id
    scenario_var.set(str(sid))
    # No dedupe on event_id here: recording a month is an idempotent upsert, and the claim
    # (not the message) decides that the checks run once, even across a crash mid-run.
    recorded = await repo.record_month(pool, event)
    if recorded.ended:  # cancelled, failed or done: a late or replayed result changes nothing
        if ahead is not None:
            ahead.forget(sid)
        return
    if not (isinstance(event, MonthFailed) or recorded.completed == event.months_total):
        return
    attempt = await repo.claim(pool, sid)
    if attempt is None:
        return
    key = scenario_key(sid)
    if isinstance(event, MonthFailed):
        if ahead is not None:
            ahead.forget(sid)
        await repo.finish(pool, sid, "failed")
        reason = (
            f"month {event.month} of {event.months_total} could not be generated: {event.reason};"
            f" POST /api/scenarios/{sid}/retry re-runs the failed months"
        )
        await _fail(pool, broker, sid, attempt, Stage.MONTHS, reason)
        return
    started = ValidationStarted(
        event_id=derived_id(sid, "ValidationStarted", attempt), scenario_id=sid, producer=PRODUCER
    )
    # Announced while the scenario is loaded and checked; confirmed before its outcome goes out.
    announced = asyncio.ensure_future(_lifecycle(pool, broker, started, key))
    try:
        async with keepalive(pool, sid):
            await _check_and_publish(pool, broker, analytics, sid, attempt, ahead, announced)
    finally:
        await asyncio.wait([announced])
    announced.result()


async def _check_and_publish(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    analytics: AnalyticsPublisher,
    sid: UUID,
    attempt: int,
    ahead: LedgerPrefetch | None,
    announced: "asyncio.Future[None]",
) -> None:
    have: dict[int, Ledger] = {}
    checking: asyncio.Task[Checked | None] | None = None
    if ahead is not None:
        checking = ahead.checking(sid)
        async with pool.acquire() as conn:
            have = await ahead.take(conn, sid)
    try:
        checked = await _finished(checking)
        known = checked.definition if checked is not None else None
        spec, master, plans, events = await repo.load_scenario(pool, sid, have, known)
        rendered = asyncio.ensure_future(published_form(pool, sid, have))  # by PostgreSQL, during the checks
        try:
            checked = _fitting(checked, spec, master, plans, have, events)
            report = await _checks(spec, master, plans, events, checked)
            await announced
            ready = checked.published if checked is not None else None
            await _publish_checked(broker, analytics, pool, sid, attempt, report, events, rendered, ready)
        finally:
            if not rendered.done():
                rendered.cancel()
    finally:
        if checking is not None:
            checking.cancel()


async def _finished(checking: "asyncio.Task[Checked | None] | None") -> Checked | None:
    """The numbers checked ahead, if they were; a check that failed is only time lost."""
    if checking is None:
        return None
    await asyncio.wait([checking])
    return None if checking.cancelled() or checking.exception() else checking.result()


def _fitting(
    checked: Checked | None,
    spec: ScenarioSpec,
    master: MasterData,
    plans: list[dict[str, Any]],
    have: dict[int, Ledger],
    events: list[BusinessEvent],
) -> Checked | None:
    """The numbers checked ahead if they are the numbers loaded now (see `Checked.fits`)."""
    return checked if checked is not None and checked.fits(spec, master, plans, have, events) else None


async def _checks(
    spec: ScenarioSpec,
    master: MasterData,
    plans: list[dict[str, Any]],
    events: list[BusinessEvent],
    checked: Checked | None,
) -> ValidationReport:
    """The scenario's report: its numbers' as `checked` ahead (if they fit, see `_fitting`), so
    that only its text is left to check; otherwise every check, now."""
    if checked is not None:
        _, told = split(events)
        return with_text(checked.report, spec, told, checked.numbers_ids)
    return await asyncio.to_thread(validate, spec, master, plans, events)


async def _publish_checked(
    broker: KafkaBroker,
    analytics: AnalyticsPublisher,
    pool: asyncpg.Pool,
    sid: UUID,
    attempt: int,
    report: ValidationReport,
    events: list[BusinessEvent],
    rendered: "asyncio.Future[list[Published]]",
    ahead: Prepared | None = None,
) -> None:
    """Publish a scenario that passed to the analytics topic (its numbers in the batches prepared
    `ahead`, if they were, then the rest), then ScenarioCompleted; or fail one that did not."""
    key = scenario_key(sid)
    if not report.passed:
        await repo.finish(pool, sid, "failed", report)
        failed = [c for c in report.checks if not c.passed and c.severity == "error"]
        reason = "validation failed: " + "; ".join(f"{c.name}: {c.details}" for c in failed[:3])
        await _fail(pool, broker, sid, attempt, Stage.VALIDATING, reason)
        return
    _, ended = await asyncio.gather(repo.finish(pool, sid, "validated", report), stopped(pool, sid))
    if ended:  # cancelled while it was checked: nothing is published
        log.info("scenario ended during validation; not published")
        return
    published = await rendered
    if [p.event_id for p in published] != [e.event_id for e in events]:  # months rewritten meanwhile
        published = as_published(events)  # the events checked are the events published
    # The numbers month by month, then the text month by month: the numbers may have gone into
    # their batches while the text was being written.
    numbers = [p for p in published if p.event_type not in TEXT_EVENT_TYPES]
    text = [p for p in published if p.event_type in TEXT_EVENT_TYPES]
    if ahead is not None and ahead.event_ids != [p.event_id for p in numbers]:
        ahead = None  # prepared from other numbers than the ones checked now
    await analytics.publish(sid, text if ahead is not None else numbers + text, ahead)
    await repo.mark_state(pool, sid, "published")
    warnings = sum(1 for c in report.checks if not c.passed)
    completed = ScenarioCompleted(
        event_id=derived_id(sid, "ScenarioCompleted", attempt),
        scenario_id=sid,
        producer=PRODUCER,
        event_count=len(events),
        warnings=warnings,
    )
    await _lifecycle(pool, broker, completed, key)
    log.info("scenario validated and published", extra={"events": len(events), "warnings": warnings})


@contextlib.asynccontextmanager
async def keepalive(pool: asyncpg.Pool, sid: UUID, every: float = 5.0) -> AsyncIterator[None]:
    """Tell the reconciler the scenario is being worked on while a long validation runs."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await pool.execute(
                    "UPDATE scenario_status SET updated_at = now() WHERE scenario_id = $1", sid
                )

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _fail(
    pool: asyncpg.Pool, broker: KafkaBroker, sid: UUID, attempt: int, stage: Stage, reason: str
) -> None:
    failed = ScenarioFailed(
        event_id=derived_id(sid, "ScenarioFailed", attempt),
        scenario_id=sid,
        producer=PRODUCER,
        stage=stage.value,
        reason=reason,
    )
    await _lifecycle(pool, broker, failed, scenario_key(sid))


async def _lifecycle(pool: asyncpg.Pool, broker: KafkaBroker, event: BaseModel, key: bytes) -> None:
    """Publish a scenario's lifecycle event, and ring the doorbell of its consumers."""
    await publish_and_ring(pool, broker, SCENARIO_LIFECYCLE, event, key)
