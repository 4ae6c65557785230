"""A hotel: room types and rooms, bookings with lead times and channels, cancellations,
stays across month ends with no room sold twice a night, ancillary revenue, staff and supplies."""

import bisect
import zlib
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from cube_contracts import BusinessType, Company, Entity, MasterData, ScenarioSpec
from cube_engine.sim import common
from cube_engine.sim.builder import MonthBuilder
from cube_engine.sim.streams import (
    at,
    cumulative,
    days,
    month_bounds,
    pareto_weights,
    person,
    poisson,
    stream,
    weighted_index,
)

PARAMS = {"rooms": common.Param(20.0, 4.0, 2000.0)}

# Occupancy target by calendar month (CoStar: January ~52 %, July ~73 %, year ~63 %).
OCCUPANCY = [0.52, 0.56, 0.60, 0.63, 0.65, 0.70, 0.74, 0.73, 0.66, 0.63, 0.58, 0.55]
RATE_SEASON = [0.92, 0.94, 0.97, 1.0, 1.02, 1.06, 1.08, 1.08, 1.03, 1.0, 0.96, 0.97]
WEEKDAY = [0.9, 0.92, 0.95, 1.0, 1.12, 1.18, 0.93]
TYPES = [
    ("RT1", "Standard double", 13500, 0.6),
    ("RT2", "Superior double", 17500, 0.27),
    ("RT3", "Suite", 29000, 0.13),
]
# channel, share of bookings, cancellation rate (D-EDGE: ~18 % direct, up to ~40 % on some OTAs)
CHANNELS = [("direct", 0.38, 0.20), ("ota", 0.47, 0.42), ("corporate", 0.15, 0.14)]
STAY = cumulative([14, 18, 17, 15, 12, 10, 8, 6])  # nights 1..8, about 3.9 on average (Dohop: ~4)
IDX = {"id": 0, "room": 1, "type": 2, "guest": 3, "channel": 4, "booked": 5, "check_in": 6, "nights": 7,
       "rate": 8, "cancelled": 9, "ancillary": 10}  # fmt: skip


def master(scenario_id: UUID, spec: ScenarioSpec) -> MasterData:
    params = common.resolve_params(spec, PARAMS)
    rng = stream(spec.seed, 0, "hotel-master")
    location, tld = common.CURRENCIES[params["currency"]]
    n_rooms = max(4, round(params["rooms"] * spec.scale))
    room_types = [Entity(id=t, name=n, base_rate_cents=round(r * params["price_level"]), share=s)
                  for t, n, r, s in TYPES]  # fmt: skip
    rooms: list[Entity] = []
    counts = [max(1, round(n_rooms * s)) for *_, s in TYPES]
    for (type_id, *_), count in zip(TYPES, counts, strict=True):
        for _ in range(count):
            floor = len(rooms) // 20 + 1
            rooms.append(Entity(id=f"R{len(rooms) + 1:04d}", name=f"Room {floor}{len(rooms) % 20 + 1:02d}",
                                room_type_id=type_id, floor=floor))  # fmt: skip
    guests = []
    for i in range(max(50, round(n_rooms * 25))):
        name, email = person(rng, "example.net")
        guests.append(Entity(id=f"G{i + 1:06d}", name=name, email=email))
    first, end = spec.start, month_bounds(spec.start, spec.months)[1]
    scale = max(1, round(n_rooms / 20))
    staff = common.employees(rng, [("front desk", 3 * scale, 210000, 260000), ("housekeeping", 4 * scale, 190000,
                             230000), ("manager", 1, 380000, 480000)], first, end, f"hotel.{tld}")  # fmt: skip
    suppliers = [Entity(id="S01", name="Linen Services", supplies="laundry"),
                 Entity(id="S02", name="Hospitality Supplies", supplies="amenities"),
                 Entity(id="S03", name="Fresh Foods", supplies="breakfast")]  # fmt: skip
    name = spec.name or f"Hotel {rng.choice(['Belvédère', 'Harbour View', 'Les Tilleuls', 'Grand Central'])}"
    company = Company(id="CO1", name=name, business_type=BusinessType.HOTEL, currency=params["currency"],
                      founded=date(first.year - rng.randint(5, 60), 1, 1), location=location,
                      description=f"A {len(rooms)}-room city hotel with breakfast, bar and meeting rooms.")  # fmt: skip
    return MasterData(company=company, room_types=room_types, rooms=rooms, customers=guests, employees=staff,
                      suppliers=suppliers)  # fmt: skip


def _lead_days(rng: Any) -> int:
    # Kalibri Labs: 59 % of stays are booked under 7 days ahead; the rest spread out to months.
    return rng.randint(0, 6) if rng.random() < 0.59 else min(180, 7 + int(rng.expovariate(1 / 30)))


def bookings(spec: ScenarioSpec, md: MasterData) -> list[list[Any]]:
    """Every booking of the window, rooms assigned so that no room is sold twice for a night."""
    params = common.resolve_params(spec, PARAMS)
    rng = stream(spec.seed, 0, "hotel-bookings")
    first, end = spec.start, month_bounds(spec.start, spec.months)[1]
    by_type: dict[str, list[str]] = {}
    for r in md.rooms:
        by_type.setdefault(r.room_type_id, []).append(r.id)  # type: ignore[attr-defined]
    rates = {rt.id: rt.base_rate_cents for rt in md.room_types}  # type: ignore[attr-defined]
    # Occupied rooms per (type, night) as a bitmask: finding a room free for every night of a
    # stay is then a few integer operations, whatever the number of rooms.
    occupied: dict[tuple[str, date], int] = {}
    type_cum = cumulative([s for *_, s in TYPES])
    channel_cum = cumulative([s for _, s, _ in CHANNELS])
    guest_cum = cumulative(pareto_weights(rng, len(md.customers), 1.5))
    out: list[list[Any]] = []
    n_rooms = len(md.rooms)
    for day in days(first, end):
        growth = (1 + params["growth"]) ** ((day - first).days / 365)
        target = OCCUPANCY[day.month - 1] * WEEKDAY[day.weekday()] * min(growth, 1.25)
        # Arrivals that keep occupancy near target given ~3.9 nights per stay; cancellations rebooked.
        for _ in range(poisson(rng, n_rooms * target / 3.85 * 1.5)):
            nights = weighted_index(rng, STAY) + 1
            type_id = TYPES[weighted_index(rng, type_cum)][0]
            channel, _, cancel_rate = CHANNELS[weighted_index(rng, channel_cum)]
            booked = day - timedelta(days=_lead_days(rng))
            cancelled = rng.random() < cancel_rate
            stay = [day + timedelta(days=i) for i in range(nights)]
            if stay[-1] >= end:
                continue  # keep every stay inside the window: its checkout must be in a month we render
            room: str | None = None
            if not cancelled:
                busy = 0
                for n in stay:
                    busy |= occupied.get((type_id, n), 0)
                slot = ((~busy) & (busy + 1)).bit_length() - 1
                if slot >= len(by_type[type_id]):
                    continue  # sold out for that type: the guest goes elsewhere
                room = by_type[type_id][slot]
                for n in stay:
                    occupied[(type_id, n)] = occupied.get((type_id, n), 0) | (1 << slot)
            rate = round(rates[type_id] * RATE_SEASON[day.month - 1] * (0.93 if channel == "ota" else 1.0)
                         * rng.uniform(0.94, 1.08) * (1.0 + 0.25 * max(0.0, target - 0.7)))  # fmt: skip
            cancelled_on = None
            if cancelled:
                # Kalibri Labs: ~45 % of cancellations come within two days of arrival.
                span = (day - booked).days
                back = rng.randint(0, min(2, span)) if rng.random() < 0.45 else rng.randint(0, span)
                cancelled_on = max(booked, day - timedelta(days=back)).isoformat()
            ancillary = round(rng.lognormvariate(7.9, 0.7)) if not cancelled and rng.random() < 0.45 else 0
            guest = md.customers[weighted_index(rng, guest_cum)].id
            out.append([f"B{len(out) + 1:07d}", room, type_id, guest, channel, max(booked, first - timedelta(days=180)
                        ).isoformat(), day.isoformat(), nights, rate, cancelled_on, ancillary])  # fmt: skip
    return out


def plan(spec: ScenarioSpec, md: MasterData) -> list[dict[str, Any]]:
    bounds = [month_bounds(spec.start, month) for month in range(1, spec.months + 1)]
    firsts = [first for first, _ in bounds]
    touching: list[list[list[Any]]] = [[] for _ in bounds]  # per month, the bookings with a day in it
    for bk in bookings(spec, md):
        check_in = date.fromisoformat(bk[6])
        dates = [date.fromisoformat(bk[5]), check_in, check_in + timedelta(days=bk[7])]
        if bk[9]:
            dates.append(date.fromisoformat(bk[9]))
        months = set()
        for d in dates:
            i = bisect.bisect_right(firsts, d) - 1
            if i >= 0 and d < bounds[i][1]:
                months.add(i)
        for i in sorted(months):
            touching[i].append(bk)
    plans = []
    n_rooms = len(md.rooms)
    for (first, _), month_bookings in zip(bounds, touching, strict=True):
        plans.append({"bookings": month_bookings, "fields": list(IDX),
                      "supplies_cents": round(n_rooms * 5200 * OCCUPANCY[first.month - 1] * 30),
                      "utilities_cents": round(n_rooms * 2600 * 30)})  # fmt: skip
    plans[0]["opening_cash_cents"] = common.opening_cash_cents(spec, "hotel", 15_000_000)
    return plans


def render(
    scenario_id: UUID, spec: ScenarioSpec, md: MasterData, month: int, p: dict[str, Any]
) -> MonthBuilder:
    first, end = month_bounds(spec.start, month)
    b = MonthBuilder(scenario_id, month, md.company.currency)
    rng = stream(spec.seed, month, "hotel-times")

    def inside(day: date) -> bool:
        return first <= day < end

    for bk in p["bookings"]:
        bid, room, type_id, guest, channel, booked_s, check_in_s, nights, rate, cancelled_s, ancillary = bk
        booked, check_in = date.fromisoformat(booked_s), date.fromisoformat(check_in_s)
        check_out = check_in + timedelta(days=nights)
        refs = {"customer_id": guest, "room_type_id": type_id, "room_id": room}
        attrs = {"booking_id": bid, "channel": channel, "check_in": check_in_s, "check_out": check_out.isoformat(),
                 "nights": nights, "nightly_rate_cents": rate}  # fmt: skip
        # The booking's hour comes from its id, so a cancellation rendered in another month
        # can still be placed after it on the same day.
        book_hour = 8 + (zlib.crc32(bid.encode()) % 1000) / 1000 * 12
        if inside(booked):
            b.add(at(booked, book_hour), "booking", None, {**attrs, "lead_days": (check_in - booked).days},
                  **refs)  # fmt: skip
        if cancelled_s:
            cancelled = date.fromisoformat(cancelled_s)
            if inside(cancelled):
                low = book_hour if cancelled == booked else 7.0
                when = at(cancelled, low + rng.random() * (23.5 - low))
                b.add(when, "cancellation", None, attrs, customer_id=guest, room_type_id=type_id)
            continue
        if inside(check_in):
            b.add(at(check_in, 15 + rng.random() * 6), "check_in", None, attrs, **refs)
        if inside(check_out):
            b.add(at(check_out, 8 + rng.random() * 3.5), "checkout", nights * rate,
                  {**attrs, "room_revenue_cents": nights * rate}, **refs)  # fmt: skip
            if ancillary:
                b.add(at(check_out, 11.6 + rng.random() * 0.3), "ancillary_sale", ancillary,
                      {"booking_id": bid, "category": rng.choice(["restaurant", "bar", "spa", "parking"])},
                      customer_id=guest, room_id=room)  # fmt: skip
    for week_day in [d for d in days(first, end) if d.weekday() == 0]:
        for supplier, share in (("S01", 0.45), ("S02", 0.25), ("S03", 0.30)):
            b.add(at(week_day, 7), "purchase", -round(p["supplies_cents"] / 4.3 * share), {"category": "supplies"},
                  supplier_id=supplier)  # fmt: skip
    common.render_staff_and_fixed_costs(b, md.employees, first, end, [("utilities", 5, p["utilities_cents"])])
    common.render_bank_statement(b, first, end)
    return b
