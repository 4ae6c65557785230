"""Hotel checks: capacity, booking order, cancellations, stay arithmetic; occupancy, ADR, RevPAR."""

from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

from cube_contracts import CheckResult
from cube_engine.validation.context import Ctx, band, cents, result


def _nights(e: Any) -> list[date]:
    check_in = date.fromisoformat(e.attributes["check_in"])
    return [check_in + timedelta(days=i) for i in range(e.attributes["nights"])]


def capacity(ctx: Ctx) -> CheckResult:
    sold: dict[tuple[str, date], str] = {}
    problems = []
    for e in ctx.by_type["checkout"]:
        for night in _nights(e):
            other = sold.setdefault((e.room_id or "", night), e.attributes["booking_id"])
            if other != e.attributes["booking_id"]:
                problems.append(
                    f"room {e.room_id} sold twice for {night}: bookings {other} and {e.attributes['booking_id']}"
                )
    return result("hotel_capacity", problems, ok="no room sold twice for a night")


def booking_order(ctx: Ctx) -> CheckResult:
    problems = []
    bookings = {e.attributes["booking_id"]: e for e in ctx.by_type["booking"]}
    for e in ctx.by_type["booking"]:
        if (
            not ctx.day(e)
            <= date.fromisoformat(e.attributes["check_in"])
            < date.fromisoformat(e.attributes["check_out"])
        ):
            problems.append(
                f"booking {e.attributes['booking_id']} made {ctx.day(e)} for {e.attributes['check_in']}..{e.attributes['check_out']}"
            )
    for e in ctx.by_type["cancellation"]:
        booked = bookings.get(e.attributes["booking_id"])
        if booked is not None and booked.occurred_at > e.occurred_at:
            problems.append(f"booking {e.attributes['booking_id']} cancelled before it was made")
        if ctx.day(e) > date.fromisoformat(e.attributes["check_in"]):
            problems.append(
                f"booking {e.attributes['booking_id']} cancelled {ctx.day(e)}, after check-in {e.attributes['check_in']}"
            )
    for e in ctx.by_type["checkout"]:
        if ctx.day(e) != date.fromisoformat(e.attributes["check_out"]):
            problems.append(
                f"booking {e.attributes['booking_id']} checked out {ctx.day(e)}, not on {e.attributes['check_out']}"
            )
    return result(
        "hotel_booking_order", problems, ok="booking <= check-in < check-out; cancellations before arrival"
    )


def cancelled_no_nights(ctx: Ctx) -> CheckResult:
    cancelled = {e.attributes["booking_id"] for e in ctx.by_type["cancellation"]}
    problems = [f"cancelled booking {e.attributes['booking_id']} has a {e.event_type}"
                for e in ctx.by_type["checkout"] + ctx.by_type["check_in"] if e.attributes["booking_id"] in cancelled]  # fmt: skip
    return result("hotel_cancelled_no_nights", problems, ok="cancelled bookings produce no room-nights")


def stay_arithmetic(ctx: Ctx) -> CheckResult:
    problems = []
    for e in ctx.by_type["checkout"]:
        expected = e.attributes["nights"] * e.attributes["nightly_rate_cents"]
        if cents(e.amount) != expected or e.attributes.get("room_revenue_cents") != expected:
            problems.append(f"booking {e.attributes['booking_id']}: {e.attributes['nights']} nights x "
                            f"{e.attributes['nightly_rate_cents']} cents = {expected}, charged {e.amount}")  # fmt: skip
    return result(
        "hotel_stay_arithmetic", problems, len(ctx.by_type["checkout"]), ok="room revenue = nights x rate"
    )


BOOKING_EVENTS = ("booking", "cancellation", "check_in", "checkout", "ancillary_sale")


def cardinality(ctx: Ctx) -> CheckResult:
    """Per booking id at most one event of each kind; every stay 1 to 30 nights."""
    problems = []
    seen: Counter[tuple[str, str]] = Counter()
    for kind in BOOKING_EVENTS:
        for e in ctx.by_type[kind]:
            seen[(e.attributes.get("booking_id", ""), kind)] += 1
            nights = e.attributes.get("nights")
            if nights is not None and not 1 <= nights <= 30:
                problems.append(
                    f"{kind} of booking {e.attributes.get('booking_id')} is for {nights} nights (1 to 30)"
                )
    problems += [f"booking {b} has {n} {kind} events (at most 1)" for (b, kind), n in seen.items() if n > 1]
    bookings = len({b for b, _ in seen})
    return result("cardinality_bounds", problems,
                  ok=f"{bookings} bookings: at most one event of each kind, stays of 1-30 nights")  # fmt: skip


def kpis(ctx: Ctx) -> list[dict[str, Any]]:
    rooms = len(ctx.master.rooms)
    sold: dict[int, int] = defaultdict(int)
    revenue: dict[int, int] = defaultdict(int)
    month_of: dict[date, int] = {}
    for m in range(1, ctx.spec.months + 1):
        first, end = ctx.bounds(m)
        for i in range((end - first).days):
            month_of[first + timedelta(days=i)] = m
    for e in ctx.by_type["checkout"]:
        for night in _nights(e):
            in_month = month_of.get(night)
            if in_month:
                sold[in_month] += 1
                revenue[in_month] += e.attributes["nightly_rate_cents"]
    out = []
    for m in range(1, ctx.spec.months + 1):
        first, end = ctx.bounds(m)
        available = rooms * (end - first).days
        flows = ctx.flows[m]
        income, costs = sum(row[0] for row in flows.values()), -sum(row[1] for row in flows.values())
        occ = sold[m] / available if available else 0.0
        adr = revenue[m] / sold[m] / 100 if sold[m] else 0.0
        out.append({"month": m, "revenue": income / 100, "costs": costs / 100, "margin": (income - costs) / 100,
                    "rooms_available": available, "rooms_sold": sold[m], "room_revenue": revenue[m] / 100,
                    "occupancy_pct": round(100 * occ, 2), "adr": round(adr, 2),
                    "revpar": round(revenue[m] / available / 100, 2) if available else 0.0,
                    "bookings": flows["booking"][2] if "booking" in flows else 0,
                    "cancellations": flows["cancellation"][2] if "cancellation" in flows else 0})  # fmt: skip
    return out


def identities(monthly: list[dict[str, Any]]) -> CheckResult:
    problems = []
    for k in monthly:
        if k["rooms_sold"] > k["rooms_available"]:
            problems.append(
                f"month {k['month']}: {k['rooms_sold']} rooms sold of {k['rooms_available']} available"
            )
        # The three are rounded to cents and hundredths of a percent: their product is off by
        # at most the sum of those roundings, which grows with the rate.
        rounding = 0.005 + 0.00005 * k["adr"] + 0.00005 * k["occupancy_pct"] + 1e-9
        if abs(k["revpar"] - k["occupancy_pct"] / 100 * k["adr"]) > rounding:
            problems.append(f"month {k['month']}: RevPAR {k['revpar']} != occupancy x ADR")
    return result("hotel_identities", problems, ok="occupancy <= 100 %, RevPAR = occupancy x ADR")


def checks(ctx: Ctx, monthly: list[dict[str, Any]]) -> list[CheckResult]:
    sold = sum(k["rooms_sold"] for k in monthly)
    available = sum(k["rooms_available"] for k in monthly)
    revenue = sum(k["room_revenue"] for k in monthly)
    bookings = len(ctx.by_type["booking"])
    return [
        capacity(ctx), booking_order(ctx), cancelled_no_nights(ctx), stay_arithmetic(ctx), identities(monthly),
        band("band_occupancy", 100 * sold / available if available else None, 50, 80, "occupancy", " %"),
        band("band_adr", revenue / sold if sold else None, 90, 260, "ADR"),
        band("band_cancellations", 100 * len(ctx.by_type["cancellation"]) / bookings if bookings else None, 15, 40,
             "bookings cancelled", " %"),
    ]  # fmt: skip
