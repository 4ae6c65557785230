"""The checks on KPIs: hotel identities, the industry bands and seasonality, each seen to fail
when the data is broken in its property."""

from collections import defaultdict
from typing import Any

from cube_engine import validate
from cube_engine.validation import hotel, quality
from cube_engine.validation.context import Ctx
from engine.tests.test_checks_fail import good, restate


def _outcome(report: Any) -> tuple[set[str], set[str]]:
    errors = {c.name for c in report.checks if not c.passed and c.severity == "error"}
    warnings = {c.name for c in report.checks if not c.passed and c.severity == "warning"}
    return errors, warnings


def test_more_room_nights_than_rooms_break_the_hotel_identities() -> None:
    spec, master, plans, events = good("hotel")
    # A third of the rooms left in master data: the stays of the others exceed the rooms available.
    master.rooms = master.rooms[: len(master.rooms) // 3]
    report = validate(spec, master, plans, events)
    errors, _ = _outcome(report)
    assert errors == {"hotel_identities", "references_resolve"}
    details = next(c.details for c in report.checks if c.name == "hotel_identities")
    assert "rooms sold of" in details and "available" in details


def test_monthly_kpis_that_disagree_break_the_hotel_identities() -> None:
    spec, master, plans, events = good("hotel")
    monthly = hotel.kpis(Ctx(spec, master, plans, events))
    assert hotel.identities(monthly).passed
    monthly[1]["revpar"] = round(monthly[1]["revpar"] + 1.0, 2)
    broken = hotel.identities(monthly)
    assert not broken.passed and "month 2: RevPAR" in broken.details


def test_kpis_rounded_at_a_high_rate_still_satisfy_the_hotel_identities() -> None:
    # 301 of 600 room nights at 470.94: occupancy 50.17 %, ADR 470.94, RevPAR 236.25 (all
    # rounded as reported); 50.17 % x 470.94 = 236.27, two cents off by rounding alone.
    month = {"month": 1, "rooms_available": 600, "rooms_sold": 301, "occupancy_pct": 50.17, "adr": 470.94,
             "revpar": 236.25}  # fmt: skip
    assert hotel.identities([month]).passed
    assert not hotel.identities([{**month, "revpar": 236.35}]).passed


def test_cancellations_far_below_the_industry_are_a_warning() -> None:
    spec, master, plans, events = good("hotel")
    events[:] = [e for e in events if not (e.event_type == "cancellation" and e.month < 4)]
    restate(events)
    report = validate(spec, master, plans, events)
    errors, warnings = _outcome(report)
    assert report.passed and not errors
    assert "band_cancellations" in warnings
    assert "15" in next(c.details for c in report.checks if c.name == "band_cancellations")


def test_a_bakery_without_its_saturday_rush_fails_seasonality() -> None:
    spec, master, plans, events = good("bakery")
    ctx = Ctx(spec, master, plans, events)
    assert quality.seasonality(ctx, []).passed
    # Keep as many Saturday tickets as an average Tuesday-Thursday has.
    per_day: dict[Any, list[Any]] = defaultdict(list)
    for e in ctx.by_type["sale"]:
        per_day[ctx.day(e)].append(e)
    midweek = [len(v) for d, v in per_day.items() if d.weekday() in (1, 2, 3)]
    keep = sum(midweek) // len(midweek)
    dropped = {id(e) for d, v in per_day.items() if d.weekday() == 5 for e in v[keep:]}
    flat = Ctx(spec, master, plans, [e for e in events if id(e) not in dropped])
    result = quality.seasonality(flat, [])
    assert not result.passed and result.severity == "warning" and "Saturday index" in result.details


def test_a_hotel_as_full_in_january_as_in_july_fails_seasonality() -> None:
    spec, master, plans, events = good("hotel")
    monthly = [{"month": m, "occupancy_pct": 60.0 + (m % 2)} for m in range(1, 13)]
    assert not quality.seasonality(Ctx(spec, master, plans, events), monthly).passed
    seasonal = [{"month": m, "occupancy_pct": 50.0 + 2 * m} for m in range(1, 13)]
    assert quality.seasonality(Ctx(spec, master, plans, events), seasonal).passed
