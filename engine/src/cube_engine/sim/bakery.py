"""A bakery: catalogue with dated price changes, tickets by hour, production and waste,
ingredient purchases, staff and fixed costs (REALISM.md, bakery)."""

from bisect import bisect_right
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
)  # fmt: skip

PARAMS = {"tickets_per_day": common.Param(40.0, 1.0, 400.0)}

# Staff are sized from the revenue the plan expects: their payroll is about LABOUR_SHARE of it
# (labour 22-28 % of sales; with food cost under 30 % that leaves the gross margin after labour
# and materials at about 45 %, REALISM.md). The owner-baker is not on the payroll: a sole trader
# bakes and lives on the operating profit, so at scale 1 the employees are one or two part-timers;
# full-time bakers, pastry chefs and sales assistants, then shop managers, come with scale.
LABOUR_SHARE = 0.26
# role, share of the shop floor's labour budget, full-time monthly salary low, high (cents)
ROLES = [("sales assistant", 0.40, 185000, 215000), ("baker", 0.40, 210000, 270000),
         ("pastry chef", 0.20, 220000, 280000)]  # fmt: skip
MANAGER = ("shop manager", 300000, 380000)
FTE_PER_MANAGER = 12  # one manager for about a dozen full-time equivalents
MIN_HOURS = 12  # shortest part-time contract, hours a week
# A small shop at scale 1; rent and energy (ovens, cold rooms) grow sublinearly with scale.
RENT_CENTS, UTILITIES_CENTS, FIXED_EXPONENT = 110000, 50000, 0.9

# name, category, price (cents), unit cost share of price, popularity
CATALOGUE = [
    ("Baguette tradition", "bread", 130, 0.22, 10.0), ("Pain de campagne", "bread", 420, 0.24, 3.0),
    ("Pain complet", "bread", 380, 0.25, 2.0), ("Croissant", "viennoiserie", 125, 0.28, 8.0),
    ("Pain au chocolat", "viennoiserie", 140, 0.30, 7.0), ("Pain aux raisins", "viennoiserie", 170, 0.30, 2.5),
    ("Chausson aux pommes", "viennoiserie", 190, 0.29, 2.0), ("Éclair au chocolat", "pastry", 350, 0.31, 2.5),
    ("Tarte aux fraises", "pastry", 420, 0.34, 1.5), ("Mille-feuille", "pastry", 390, 0.32, 1.5),
    ("Flan pâtissier", "pastry", 280, 0.27, 2.0), ("Sandwich jambon-beurre", "snack", 550, 0.33, 3.5),
    ("Quiche lorraine", "snack", 480, 0.30, 2.0), ("Café", "drink", 180, 0.12, 5.0),
    ("Jus d'orange", "drink", 320, 0.30, 1.2), ("Galette des rois", "cake", 2200, 0.30, 0.3),
]  # fmt: skip
WEEKDAY = [0.0, 0.9, 0.95, 1.0, 1.1, 1.45, 1.25]  # Monday closed, Saturday busiest
SEASON = [0.92, 0.95, 1.0, 1.02, 1.05, 1.02, 0.92, 0.80, 1.0, 1.02, 1.05, 1.25]
HOURS = cumulative([0, 0, 0, 0, 0, 0, 0, 9, 11, 7, 4, 5, 9, 7, 3, 3, 5, 7, 6, 3, 0, 0, 0, 0])
HOLIDAYS = {(12, 24): 2.1, (12, 31): 1.7, (1, 6): 1.5, (2, 14): 1.3, (5, 1): 0.0, (12, 25): 0.0, (1, 1): 0.0}
LINE_WEIGHTS: list[float] = [62, 28, 10]
QTY_WEIGHTS: list[float] = [70, 18, 6, 4, 2]
LINES = cumulative(LINE_WEIGHTS)  # lines per ticket: 1, 2 or 3
QTY = cumulative(QTY_WEIGHTS)  # units per line: 1..5 (about 1.5 on average)


def master(scenario_id: UUID, spec: ScenarioSpec) -> MasterData:
    params = common.resolve_params(spec, PARAMS)
    rng = stream(spec.seed, 0, "bakery-master")
    location, tld = common.CURRENCIES[params["currency"]]
    domain = f"boulangerie-{rng.randint(10, 99)}.{tld}"
    first, end = spec.start, month_bounds(spec.start, spec.months)[1]
    products = []
    rise_day = first + timedelta(days=rng.randint(120, 240))  # one dated price rise in the year
    for i, (name, category, price, cost_share, popularity) in enumerate(CATALOGUE):
        base = round(price * params["price_level"] / 5) * 5
        raised = round(base * rng.uniform(1.03, 1.08) / 5) * 5
        products.append(Entity(
            id=f"P{i + 1:03d}", name=name, category=category, popularity=popularity,
            unit_cost_cents=round(base * cost_share * rng.uniform(0.92, 1.08)),
            price_history=[{"from": first.isoformat(), "price_cents": base},
                           {"from": rise_day.isoformat(), "price_cents": raised}],
        ))  # fmt: skip
    n_customers = max(20, round(40 * spec.scale))
    customers = []
    for i in range(n_customers):
        name, email = person(rng, "example.org")
        customers.append(Entity(id=f"C{i + 1:05d}", name=name, email=email, loyalty_card=True))
    revenue = expected_monthly_revenue_cents(spec, params, products)
    staff = common.employees(
        rng, staff_roles(LABOUR_SHARE * revenue), first, end, domain, keep_posts_filled=True
    )
    suppliers = [Entity(id=f"S{i + 1:02d}", name=n, supplies=k) for i, (n, k) in enumerate([
        ("Moulins de la Vallée", "flour"), ("Laiterie Centrale", "dairy"), ("Primeurs du Marché", "fruit"),
        ("Emballages Pro", "packaging"), ("Torréfaction Arabica", "coffee")])]  # fmt: skip
    name = (
        spec.name or f"Boulangerie {rng.choice(['du Marché', 'Saint-Honoré', 'des Halles', 'Belle Croûte'])}"
    )
    company = Company(id="CO1", name=name, business_type=BusinessType.BAKERY, currency=params["currency"],
                      founded=date(first.year - rng.randint(3, 30), rng.randint(1, 12), 1), location=location,
                      description="An artisan bakery: breads, viennoiseries and pastries baked on site.")  # fmt: skip
    return MasterData(
        company=company, products=products, customers=customers, employees=staff, suppliers=suppliers
    )


def _demand(spec: ScenarioSpec, params: dict[str, Any], month: int) -> float:
    """Expected tickets on an ordinary day of the month (before weekday and holiday factors)."""
    first, _ = month_bounds(spec.start, month)
    trend = (1 + params["growth"]) ** ((month - 1) / 12)
    return round(params["tickets_per_day"] * spec.scale * trend * SEASON[first.month - 1], 4)


def expected_monthly_revenue_cents(
    spec: ScenarioSpec, params: dict[str, Any], products: list[Entity]
) -> float:
    """The revenue the plan expects per month over the window: expected tickets each day x units per
    ticket x the popularity-weighted catalogue price in force (the galette in January only)."""
    units = sum((i + 1) * w for i, w in enumerate(LINE_WEIGHTS)) / sum(LINE_WEIGHTS)
    units *= sum((i + 1) * w for i, w in enumerate(QTY_WEIGHTS)) / sum(QTY_WEIGHTS)
    weights = [pr.popularity for pr in products]
    steps = _price_steps(products)
    cakes = [pr.category == "cake" for pr in products]  # type: ignore[attr-defined]
    total = 0.0
    for month in range(1, spec.months + 1):
        first, end = month_bounds(spec.start, month)
        demand = _demand(spec, params, month)
        for day in days(first, end):
            factor = WEEKDAY[day.weekday()] * HOLIDAYS.get((day.month, day.day), 1.0)
            if factor:
                prices = [_price_at(steps[0] if cake and day.month != 1 else own, day)
                          for cake, own in zip(cakes, steps, strict=True)]  # fmt: skip
                mean = sum(w * p for w, p in zip(weights, prices, strict=True)) / sum(weights)
                total += demand * factor * units * mean
    return total / spec.months


def staff_roles(labour_cents: float) -> list[tuple[str, int, int, int, int]]:
    """(role, count, salary low, high, hours a week) whose payroll is about `labour_cents` a month:
    managers first, then each role's share as full-timers and one part-timer for the rest; hours
    too few for a contract of their own go to a part-timer with room, and there is always someone
    to help the owner at the counter."""
    mid = {role: (low + high) / 2 for role, _, low, high in ROLES}
    average = sum(share * mid[role] for role, share, _, _ in ROLES)
    managers = round(labour_cents / average / FTE_PER_MANAGER)
    budget = max(0.0, labour_cents - managers * (MANAGER[1] + MANAGER[2]) / 2)
    full = common.FULL_TIME_HOURS
    out = [(MANAGER[0], managers, MANAGER[1], MANAGER[2], full)] if managers else []
    spare = 0.0  # cents of labour budget not yet given to anyone
    for role, share, low, high in ROLES:
        people, rest = divmod(budget * share / mid[role] * full, full)
        if people:
            out.append((role, int(people), low, high, full))
        if rest >= MIN_HOURS:
            out.append((role, 1, low, high, round(rest)))
        else:
            spare += rest * mid[role] / full
    for i, (role, count, low, high, hours) in enumerate(out):
        extra = round(spare / mid.get(role, MANAGER[1]) * full)
        if count == 1 and hours < full and hours + extra <= full:
            out[i] = (role, 1, low, high, hours + extra)
            break
    else:
        role, _, low, high = ROLES[0]
        extra = round(spare / mid[role] * full)
        if extra >= MIN_HOURS / 2 or not out:
            out.append((role, 1, low, high, max(MIN_HOURS, extra)))
    return out


def plan(spec: ScenarioSpec, md: MasterData) -> list[dict[str, Any]]:
    params = common.resolve_params(spec, PARAMS)
    fixed = max(0.5, spec.scale) ** FIXED_EXPONENT
    plans = []
    for month in range(1, spec.months + 1):
        first, _ = month_bounds(spec.start, month)
        plans.append({
            "demand": _demand(spec, params, month),
            "rent_cents": round(RENT_CENTS * fixed),
            "utilities_cents": round(UTILITIES_CENTS * fixed * (1.15 if first.month in (1, 2, 12) else 1)),
        })  # fmt: skip
    plans[0]["opening_cash_cents"] = common.opening_cash_cents(spec, "bakery", 3_000_000)
    return plans


def _price_steps(products: list[Entity]) -> list[list[tuple[date, int]]]:
    """Each product's price history as (from, price) pairs, read once."""
    return [
        [(date.fromisoformat(step["from"]), step["price_cents"]) for step in pr.price_history]  # type: ignore[attr-defined]
        for pr in products
    ]


def _price_at(steps: list[tuple[date, int]], day: date) -> int:
    """The price in force on `day`: that of the last step that has begun."""
    price = 0
    for start, cents in steps:
        if start <= day:
            price = cents
    return price


def render(
    scenario_id: UUID, spec: ScenarioSpec, md: MasterData, month: int, p: dict[str, Any]
) -> MonthBuilder:
    first, end = month_bounds(spec.start, month)
    b = MonthBuilder(scenario_id, month, md.company.currency)
    rng = stream(spec.seed, month, "bakery-tickets")
    waste_rng = stream(spec.seed, month, "bakery-waste")
    refund_rng = stream(spec.seed, month, "bakery-refunds")
    products = md.products
    popularity = cumulative([pr.popularity for pr in products])  # type: ignore[attr-defined]
    loyalty = cumulative(pareto_weights(stream(spec.seed, 0, "bakery-loyalty"), len(md.customers)))
    # Plain values of what every ticket reads (entity attributes are slow to reach).
    ids = [pr.id for pr in products]
    cakes = [pr.category == "cake" for pr in products]  # type: ignore[attr-defined]
    customer_ids = [c.id for c in md.customers]
    steps = _price_steps(products)
    rand = rng.random

    def pick(cumulative: list[float]) -> int:  # weighted_index(rng, cumulative), the hot path inlined
        i = bisect_right(cumulative, rand() * cumulative[-1])
        return i if i < len(cumulative) else len(cumulative) - 1

    weekly_cost: dict[int, int] = {}
    ticket_no = 0
    for day in days(first, end):
        factor = WEEKDAY[day.weekday()] * HOLIDAYS.get((day.month, day.day), 1.0)
        if factor == 0:
            continue
        prices = [_price_at(own, day) for own in steps]
        sold = [0] * len(products)
        for _ in range(poisson(rng, p["demand"] * factor)):
            ticket_no += 1
            hour = pick(HOURS) + rand()
            lines: list[dict[str, Any]] = []
            total = 0
            for _ in range(pick(LINES) + 1):
                i = pick(popularity)
                if cakes[i] and day.month != 1:
                    i = 0  # the galette is sold in January only
                qty = pick(QTY) + 1
                price, product_id = prices[i], ids[i]
                same = next((x for x in lines if x["product_id"] == product_id), None)
                if same is not None:  # a till records one line per product: the units add up
                    same["quantity"] += qty
                    same["line_cents"] += qty * price
                else:
                    lines.append({"product_id": product_id, "quantity": qty, "unit_price_cents": price,
                                  "line_cents": qty * price})  # fmt: skip
                sold[i] += qty
                total += qty * price
            customer = customer_ids[pick(loyalty)] if rand() < 0.3 else None
            ticket = f"T{month:02d}-{ticket_no:06d}"
            b.add(at(day, hour), "sale", total, {"ticket_id": ticket, "lines": lines,
                  "payment": "card" if rand() < 0.68 else "cash"}, customer_id=customer)  # fmt: skip
            if refund_rng.random() < 0.004:
                line = lines[0]
                b.add(at(day, min(hour + 0.5, 20.5)), "refund", -line["line_cents"],
                      {"ticket_id": ticket, "reason": "quality complaint", "product_id": line["product_id"],
                       "quantity": line["quantity"]}, customer_id=customer)  # fmt: skip
        production = []
        cost = 0
        for i, pr in enumerate(products):
            if sold[i] == 0:
                continue
            # Unsold bread is about 4-6 % of production (Pietrangeli et al. 2023); stochastic
            # rounding keeps small quantities from always rounding the waste away.
            expected = sold[i] * waste_rng.uniform(0.035, 0.075)
            waste = int(expected) + (waste_rng.random() < expected - int(expected))
            made = sold[i] + waste
            production.append({"product_id": pr.id, "produced": made, "sold": sold[i], "waste": waste,
                               "unit_cost_cents": pr.unit_cost_cents})  # type: ignore[attr-defined]  # fmt: skip
            cost += made * pr.unit_cost_cents  # type: ignore[attr-defined]
        if production:
            b.add(at(day, 5), "production", None, {"lines": production})
            wasted = sum(line["waste"] * line["unit_cost_cents"] for line in production)
            b.add(at(day, 20.5), "waste", None, {"units": sum(line["waste"] for line in production),
                                                  "cost_cents": wasted})  # fmt: skip
        weekly_cost[day.isocalendar()[1]] = weekly_cost.get(day.isocalendar()[1], 0) + cost
    # Ingredients are bought weekly for what that week produced, split over the suppliers.
    shares = [("S01", 0.40), ("S02", 0.25), ("S03", 0.15), ("S04", 0.08), ("S05", 0.12)]
    buy_days = [d for d in days(first, end) if d.weekday() == 1] or [first]
    for week, cents in sorted(weekly_cost.items()):
        day = next((d for d in buy_days if d.isocalendar()[1] == week), buy_days[-1])
        for supplier, share in shares:
            amount = round(cents * share)
            if amount:
                b.add(at(day, 6), "purchase", -amount, {"category": "ingredients", "week": week},
                      supplier_id=supplier)  # fmt: skip
    common.render_staff_and_fixed_costs(b, md.employees, first, end,
                                        [("rent", 1, p["rent_cents"]), ("utilities", 15, p["utilities_cents"])])  # fmt: skip
    common.render_bank_statement(b, first, end)
    return b
