"""Months' numbers read while their text is written: the validator then reads only the rest,
and a month written again since is read again. Once all the numbers and the plans are in, the
numbers are checked, and only the text is left to check after the last month."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import patch
from uuid import UUID, uuid4

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from cube_contracts import (
    ANALYTICS_BUSINESS_EVENTS,
    BusinessEvent,
    BusinessType,
    MonthCompleted,
    ScenarioSpec,
    derived_id,
)
from cube_engine import ValidationReport, generate, validate
from cube_month_worker.store import add_to_month, replace_month
from cube_runtime.redrive import PLANS_STORED
from cube_runtime.testing import Infra
from cube_validator import validation
from cube_validator.analytics import AnalyticsPublisher, Prepared, published_form, to_json
from cube_validator.prefetch import Ledger, LedgerPrefetch
from cube_validator.repository import load_scenario
from tests.helpers import insert_scenario, read_topic

pytestmark = pytest.mark.connected


@pytest.fixture
async def ahead(pool: asyncpg.Pool) -> AsyncIterator[LedgerPrefetch]:
    """A validator's read-ahead, listening on the pool's database."""
    prefetch = LedgerPrefetch()
    await prefetch.start(pool)
    yield prefetch
    await prefetch.stop()


async def _scenario(pool: asyncpg.Pool) -> tuple[UUID, list[list[BusinessEvent]]]:
    sid = uuid4()
    spec = ScenarioSpec(business_type=BusinessType.HOTEL, seed=5, months=3)
    master, _, months = generate(spec, sid)
    await insert_scenario(pool, spec, sid, engine="claude", master=master)
    return sid, months


async def _until_read(ahead: LedgerPrefetch, sid: UUID, months: list[int]) -> None:
    for _ in range(200):
        if ahead.read_months(sid) == months:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"read {ahead.read_months(sid)}, expected {months}")


async def _load(
    pool: asyncpg.Pool, ahead: LedgerPrefetch, sid: UUID
) -> tuple[dict[int, Ledger], list[BusinessEvent]]:
    async with pool.acquire() as conn:
        have = await ahead.take(conn, sid)
    *_, events = await load_scenario(pool, sid, have)
    published = await published_form(pool, sid, have)
    assert [json.loads(p.value) for p in published] == [json.loads(to_json(e)) for e in events]
    assert [p.event_id for p in published] == [e.event_id for e in events]
    return have, events


async def test_the_rest_is_read_after_the_numbers_read_ahead(
    pool: asyncpg.Pool, ahead: LedgerPrefetch
) -> None:
    sid, months = await _scenario(pool)
    elsewhere, others = await _scenario(pool)  # validated by another validator process
    ahead.expect(sid, 3)  # its MonthStarted came here
    await replace_month(pool, elsewhere, 1, others[0], ahead=True)
    # Months 1 and 2: numbers first (all but their last two events), the rest once "written".
    for m in (1, 2):
        await replace_month(pool, sid, m, months[m - 1][:-2], ahead=True)
    await replace_month(pool, sid, 3, months[2])
    await _until_read(ahead, sid, [1, 2])
    assert ahead.read_months(elsewhere) == []  # notified first, and not read
    for m in (1, 2):
        await add_to_month(pool, sid, m, months[m - 1][-2:], len(months[m - 1]) - 2)
    have, events = await _load(pool, ahead, sid)
    assert [(e.event_id, e.amount) for e in events] == [(e.event_id, e.amount) for m in months for e in m]
    assert sorted(have) == [1, 2]  # their numbers were not read again
    assert ahead.read_months(sid) == []  # taken, so forgotten


async def test_a_month_written_again_since_is_read_again(pool: asyncpg.Pool, ahead: LedgerPrefetch) -> None:
    sid, months = await _scenario(pool)
    ahead.expect(sid, 3)
    for m in (1, 2, 3):
        await replace_month(pool, sid, m, months[m - 1], ahead=True)
    await _until_read(ahead, sid, [1, 2, 3])
    changed = [e.model_copy(update={"attributes": {"again": True}}) for e in months[1]]
    await replace_month(pool, sid, 2, changed)  # same ids and count, another transaction
    have, events = await _load(pool, ahead, sid)
    assert sorted(have) == [1, 3]
    assert [e.attributes for e in events if e.month == 2] == [{"again": True}] * len(changed)
    assert [e.event_id for e in events] == [e.event_id for m in months for e in m]


async def _store_plans(pool: asyncpg.Pool, sid: UUID, plans: list[dict[str, Any]]) -> None:
    """What the planner does once the story is written: store the plans, then notify."""
    async with pool.acquire() as conn, conn.transaction():
        for month, plan in enumerate(plans, start=1):
            await conn.execute(
                "INSERT INTO month_plans (scenario_id, month, plan) VALUES ($1, $2, $3)", sid, month, plan
            )
        await conn.execute("SELECT pg_notify($1, $2)", PLANS_STORED, str(sid))


def _narrative(sid: UUID, month: int, ledger: list[BusinessEvent]) -> BusinessEvent:
    first = ledger[0].occurred_at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return BusinessEvent(
        event_id=derived_id(sid, "narrative", month), scenario_id=sid, month=month, occurred_at=first,
        event_type="narrative", attributes={"headline": f"Month {month}", "narrative": "Busy.", "source": "llm"},
    )  # fmt: skip


async def _checked_year(pool: asyncpg.Pool, ahead: LedgerPrefetch) -> tuple[UUID, list[list[BusinessEvent]]]:
    """A claude-engine year as the month-workers store it: numbers first (before the planner has
    stored the plans), then each month's text; returns once its numbers are checked ahead."""
    sid = uuid4()
    spec = ScenarioSpec(business_type=BusinessType.HOTEL, seed=5, months=3)
    master, plans, months = generate(spec, sid)
    await insert_scenario(pool, spec, sid, engine="claude", master=master)
    ahead.expect(sid, 3)
    for m in (1, 2, 3):
        await replace_month(pool, sid, m, months[m - 1], ahead=True)
    await _until_read(ahead, sid, [1, 2, 3])
    assert not ahead.checked(sid)  # waits for the plans
    await _store_plans(pool, sid, plans)
    for _ in range(300):
        if ahead.checked(sid):
            break
        await asyncio.sleep(0.02)
    assert ahead.checked(sid)
    for m in (1, 2, 3):
        await add_to_month(pool, sid, m, [_narrative(sid, m, months[m - 1])], len(months[m - 1]))
    return sid, months


async def _report(pool: asyncpg.Pool, ahead: LedgerPrefetch, sid: UUID) -> tuple[ValidationReport, int]:
    """The report as the validator makes it, and how often every check ran at the end."""
    checked = await validation._finished(ahead.checking(sid))
    async with pool.acquire() as conn:
        have = await ahead.take(conn, sid)
    known = checked.definition if checked is not None else None
    spec, master, plans, events = await load_scenario(pool, sid, have, known)
    ran = []

    def counted(*args: Any) -> ValidationReport:
        ran.append(1)
        return validate(*args)

    with patch.object(validation, "validate", counted):
        fitting = validation._fitting(checked, spec, master, plans, have, events)
        report = await validation._checks(spec, master, plans, events, fitting)
    assert report == validate(spec, master, plans, events)  # the same report either way
    assert {e.event_type for e in events} >= {"narrative", "checkout"}
    return report, len(ran)


async def test_the_numbers_are_checked_while_the_text_is_written(
    pool: asyncpg.Pool, ahead: LedgerPrefetch
) -> None:
    sid, _ = await _checked_year(pool, ahead)
    report, full_runs = await _report(pool, ahead, sid)
    assert report.passed
    assert full_runs == 0  # only the text was left to check
    assert next(c for c in report.checks if c.name == "text_events").details.startswith("3 text events")


async def test_numbers_written_again_after_their_check_are_checked_again(
    pool: asyncpg.Pool, ahead: LedgerPrefetch
) -> None:
    sid, months = await _checked_year(pool, ahead)
    # Month 2 written again whole, its numbers changed; no notice of it reaches this process.
    changed = [e.model_copy(update={"amount": e.amount * 2}) if e.amount else e for e in months[1]]
    await replace_month(pool, sid, 2, [*changed, _narrative(sid, 2, changed)])
    report, full_runs = await _report(pool, ahead, sid)
    assert full_runs == 1
    assert not report.passed  # doubled amounts break the books, and the full run saw it


async def test_numbers_checked_on_plans_stored_again_since_are_checked_again(
    pool: asyncpg.Pool, ahead: LedgerPrefetch
) -> None:
    sid, _ = await _checked_year(pool, ahead)
    # The scenario was planned again meanwhile: month 3's plan is another one.
    await pool.execute(
        "UPDATE month_plans SET plan = plan || '{\"supplies_cents\": 1}'::jsonb WHERE scenario_id = $1 AND month = 3",
        sid,
    )
    _, full_runs = await _report(pool, ahead, sid)
    assert full_runs == 1  # checked on the plans stored now, not on those checked ahead


async def test_numbers_checked_ahead_go_out_in_the_batches_made_for_them(
    pool: asyncpg.Pool, infra: Infra
) -> None:
    publisher = AnalyticsPublisher(infra.bootstrap)
    await publisher.start()
    sent: list[tuple[int, Prepared | None]] = []
    publish = publisher.publish

    async def spy(sid: UUID, events: Any, ahead: Prepared | None = None) -> int:
        sent.append((len(events), ahead))
        return await publish(sid, events, ahead)

    prefetch = LedgerPrefetch(prepare=publisher.prepare)
    await prefetch.start(pool)
    try:
        sid, months = await _checked_year(pool, prefetch)
        await pool.execute(
            "INSERT INTO scenario_status (scenario_id, status, stage, progress, months_total)"
            " VALUES ($1, 'processing', 'stage3_months', 50, 3)",
            sid,
        )
        with patch.object(publisher, "publish", spy):
            async with KafkaBroker(infra.bootstrap) as broker:
                for m in (1, 2, 3):
                    done = MonthCompleted(
                        event_id=uuid4(), scenario_id=sid, producer="test", month=m, months_total=3,
                        event_count=len(months[m - 1]) + 1, content_hash="h", duration_ms=1,
                    )  # fmt: skip
                    await validation.on_month_result(pool, broker, publisher, done, prefetch)
    finally:
        await prefetch.stop()
        await publisher.stop()
    numbers = [e.event_id for month in months for e in month]
    [(text, ready)] = sent
    assert (
        text == 3 and ready is not None and ready.event_ids == numbers
    )  # only the text was batched at the end
    records = await read_topic(infra.bootstrap, ANALYTICS_BUSINESS_EVENTS, str(sid).encode())
    ids = [UUID(json.loads(r.value)["event_id"]) for r in records]
    assert ids == numbers + [derived_id(sid, "narrative", m) for m in (1, 2, 3)]
    assert await pool.fetchval("SELECT state FROM validations WHERE scenario_id = $1", sid) == "published"
