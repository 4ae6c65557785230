"""The text events (narrative, notable events) are checked apart from the numbers: the numbers'
report is the same with or without them, and a text event broken in one way fails text_events."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from cube_contracts import BusinessEvent, derived_id
from cube_engine import validate
from cube_engine.validation import check_numbers, with_text
from cube_engine.validation.text import split
from engine.tests.test_checks_fail import good


def told(events: list[BusinessEvent]) -> list[BusinessEvent]:
    """Events with a month's text added as the claude engine writes it: a narrative on the 1st
    and a notable event told on the day of the ledger event it explains."""
    sid, sale = events[0].scenario_id, events[len(events) // 3]
    first = next(e for e in events if e.month == sale.month).occurred_at.replace(
        day=1, hour=0, minute=0, second=0
    )
    narrative = BusinessEvent(
        event_id=derived_id(sid, "narrative", sale.month), scenario_id=sid, month=sale.month, occurred_at=first,
        event_type="narrative", attributes={"headline": "A month", "narrative": "It went well.", "source": "llm"},
    )  # fmt: skip
    notable = BusinessEvent(
        event_id=derived_id(sid, "notable", sale.month, 1), scenario_id=sid, month=sale.month,
        occurred_at=sale.occurred_at, event_type="notable_event",
        attributes={"kind": "review", "title": "A review", "summary": "Good.", "narrative": "Good.",
                    "related_event_id": str(sale.event_id), "source": "llm"},
    )  # fmt: skip
    return [*events, narrative, notable]


def _notable(ev: list[BusinessEvent]) -> BusinessEvent:
    return next(e for e in ev if e.event_type == "notable_event")


def with_money(ev: list[BusinessEvent]) -> None:
    _notable(ev).amount = Decimal("12.00")


def outside_its_month(ev: list[BusinessEvent]) -> None:
    notable = _notable(ev)
    notable.occurred_at = notable.occurred_at + timedelta(days=40)


def with_a_ledger_id(ev: list[BusinessEvent]) -> None:
    _notable(ev).event_id = ev[0].event_id


def explaining_nothing(ev: list[BusinessEvent]) -> None:
    _notable(ev).attributes["related_event_id"] = str(uuid4())


def naming_master_data(ev: list[BusinessEvent]) -> None:
    _notable(ev).customer_id = "C0001"


@pytest.mark.parametrize("business_type", ["bakery", "hotel", "tech_startup"])
def test_the_numbers_report_is_the_same_with_or_without_text(business_type: str) -> None:
    spec, master, plans, events = good(business_type)
    alone = validate(spec, master, plans, events)
    both = validate(spec, master, plans, told(events))
    assert alone.passed and both.passed
    assert both.kpis == alone.kpis
    assert [c for c in both.checks if c.name != "text_events"] == [
        c for c in alone.checks if c.name != "text_events"
    ]
    text = next(c for c in both.checks if c.name == "text_events")
    assert text.passed and text.details.startswith("2 text events")
    # Checked apart, in two steps (as the validator does while the text is being written).
    numbers, text_events = split(told(events))
    ahead = check_numbers(spec, master, plans, numbers)
    assert with_text(ahead, spec, text_events, {e.event_id for e in numbers}) == both


@pytest.mark.parametrize(
    "breaker", [with_money, outside_its_month, with_a_ledger_id, explaining_nothing, naming_master_data]
)
def test_a_broken_text_event_fails_text_events_only(breaker: Callable[[list[Any]], None]) -> None:
    spec, master, plans, events = good("hotel")
    ev = told(events)
    breaker(ev)
    report = validate(spec, master, plans, ev)
    failed = {c.name for c in report.checks if not c.passed and c.severity == "error"}
    assert failed == {"text_events"}, {c.name: c.details for c in report.checks if not c.passed}
    assert not report.passed
