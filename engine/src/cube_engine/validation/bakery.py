"""Bakery checks: cardinality, line arithmetic, catalogue prices, refunds, mass balance, ingredient
purchases; KPIs and bands."""

from collections import Counter, defaultdict
from datetime import date
from typing import Any

from cube_contracts import CheckResult
from cube_engine.validation.context import Ctx, band, cents, result


def _price(product: Any, day: date) -> int:
    price = 0
    for step in product.price_history:
        if date.fromisoformat(step["from"]) <= day:
            price = step["price_cents"]
    return int(price)


class _Prices:
    """Catalogue price of a product on a day, worked out once per (product, day)."""

    def __init__(self, products: dict[str, Any]) -> None:
        self.products = products
        self._known: dict[tuple[str, date], int] = {}

    def __call__(self, product_id: str, day: date) -> int:
        key = (product_id, day)
        price = self._known.get(key)
        if price is None:
            price = self._known[key] = _price(self.products[product_id], day)
        return price


def line_cents(line: dict[str, Any]) -> int:
    """quantity x unit price x (1 - discount %), rounded half up to the cent, in integers."""
    gross = line["quantity"] * line["unit_price_cents"]
    return (gross * (100 - line.get("discount_pct", 0)) + 50) // 100


def line_arithmetic(ctx: Ctx) -> CheckResult:
    problems, lines = [], 0
    for e in ctx.by_type["sale"]:
        for line in e.attributes.get("lines", []):
            lines += 1
            if line["line_cents"] != line_cents(line):
                discount = f" x (1 - {line['discount_pct']} %)" if line.get("discount_pct") else ""
                problems.append(f"ticket {e.attributes.get('ticket_id')} line {line['product_id']}: {line['quantity']} x "
                                f"{line['unit_price_cents']}{discount} = {line_cents(line)}, line says {line['line_cents']} cents")  # fmt: skip
    return result(
        "line_arithmetic", problems, lines, ok="every line = quantity x unit price x (1 - discount)"
    )


def cardinality(ctx: Ctx) -> CheckResult:
    """1-10 lines per ticket, one line per product, one sale per ticket id, at most one refund each."""
    problems = []
    tickets: Counter[str] = Counter()
    for e in ctx.by_type["sale"]:
        ticket = e.attributes.get("ticket_id")
        tickets[ticket] += 1
        lines = e.attributes.get("lines", [])
        if not 1 <= len(lines) <= 10:
            problems.append(f"ticket {ticket} has {len(lines)} lines (1 to 10 allowed)")
        ids = [x["product_id"] for x in lines]
        if len(set(ids)) != len(ids):
            repeated = sorted(p for p, n in Counter(ids).items() if n > 1)
            problems.append(
                f"ticket {ticket} has {len(repeated)} product(s) on more than one line: {', '.join(repeated)}"
            )
    problems += [f"ticket id {t} used by {n} sales" for t, n in tickets.items() if n > 1]
    refunds = Counter(e.attributes.get("ticket_id") for e in ctx.by_type["refund"])
    problems += [f"ticket {t} refunded {n} times (at most once)" for t, n in refunds.items() if n > 1]
    return result("cardinality_bounds", problems, ok=f"{len(tickets)} tickets: 1-10 lines, one line per product, "
                  "one sale per ticket id, at most one refund")  # fmt: skip


def unit_price_catalogue(ctx: Ctx) -> CheckResult:
    products = {p.id: p for p in ctx.master.products}
    price = _Prices(products)
    problems = []
    for e in ctx.by_type["sale"]:
        day = ctx.day(e)
        for line in e.attributes.get("lines", []):
            product = products.get(line["product_id"])
            if product is None:
                problems.append(
                    f"ticket {e.attributes.get('ticket_id')}: unknown product {line['product_id']}"
                )
            elif line["unit_price_cents"] != price(product.id, day) and not line.get("discount_pct"):
                problems.append(f"ticket {e.attributes.get('ticket_id')} on {day}: {line['product_id']} at "
                                f"{line['unit_price_cents']} cents, catalogue says {_price(product, day)}")  # fmt: skip
    return result(
        "unit_price_catalogue", problems, ok="every unit price is the catalogue price in force that day"
    )


def refund_after_sale(ctx: Ctx) -> CheckResult:
    sales = {e.attributes.get("ticket_id"): e for e in ctx.by_type["sale"]}
    problems = []
    for r in ctx.by_type["refund"]:
        sale = sales.get(r.attributes.get("ticket_id"))
        if sale is None:
            problems.append(f"refund {r.event_id} refers to unknown ticket {r.attributes.get('ticket_id')}")
        elif r.occurred_at < sale.occurred_at:
            problems.append(f"refund {r.event_id} at {r.occurred_at} precedes its sale at {sale.occurred_at}")
        elif -cents(r.amount) > cents(sale.amount):
            problems.append(f"refund {r.event_id} of {r.amount} exceeds its sale of {sale.amount}")
    return result(
        "refund_after_sale",
        problems,
        len(ctx.by_type["refund"]),
        ok="refunds follow their sale and never exceed it",
    )


def mass_balance(ctx: Ctx) -> CheckResult:
    sold: dict[tuple[date, str], int] = defaultdict(int)
    for e in ctx.by_type["sale"]:
        for line in e.attributes.get("lines", []):
            sold[(ctx.day(e), line["product_id"])] += line["quantity"]
    problems = []
    seen: set[tuple[date, str]] = set()
    for e in ctx.by_type["production"]:
        day = ctx.day(e)
        for line in e.attributes.get("lines", []):
            key = (day, line["product_id"])
            seen.add(key)
            if line["waste"] < 0 or line["produced"] != line["sold"] + line["waste"]:
                problems.append(
                    f"{day} {line['product_id']}: produced {line['produced']} != sold {line['sold']} + waste {line['waste']}"
                )
            elif line["sold"] != sold.get(key, 0):
                problems.append(
                    f"{day} {line['product_id']}: production says {line['sold']} sold, tickets say {sold.get(key, 0)}"
                )
    problems += [
        f"{d} {p}: {n} sold with no production recorded"
        for (d, p), n in sold.items()
        if (d, p) not in seen and n
    ]
    return result("bakery_mass_balance", problems, ok="produced = sold + waste for every product and day")


def ingredient_purchases(ctx: Ctx) -> CheckResult:
    """Each month's ingredient purchases pay for that month's production at catalogue unit cost; the
    tolerance is one cent per purchase, the rounding of splitting a week's cost over suppliers."""
    unit_cost = {p.id: p.unit_cost_cents for p in ctx.master.products}  # type: ignore[attr-defined]
    produced: dict[int, int] = defaultdict(int)
    for e in ctx.by_type["production"]:
        for line in e.attributes.get("lines", []):
            produced[e.month] += line["produced"] * unit_cost.get(line["product_id"], 0)
    bought: dict[int, int] = defaultdict(int)
    count: dict[int, int] = defaultdict(int)
    for e in ctx.by_type["purchase"]:
        if e.attributes.get("category") == "ingredients":
            bought[e.month] -= cents(e.amount)
            count[e.month] += 1
    problems = []
    for m in range(1, ctx.spec.months + 1):
        off = bought[m] - produced[m]
        if abs(off) > count[m]:
            share = f", {100 * off / produced[m]:+.2f} %" if produced[m] else ""
            problems.append(f"month {m}: ingredients bought {bought[m] / 100:,.2f}, production at catalogue cost "
                            f"{produced[m] / 100:,.2f} (off by {off / 100:+,.2f}{share}; tolerance {count[m]} cents)")  # fmt: skip
    return result("bakery_ingredient_purchases", problems,
                  ok="ingredient purchases = production x catalogue unit cost, to a cent per purchase")  # fmt: skip


def gross_margin_pct(revenue: float, materials: float, payroll: float) -> float | None:
    """(revenue - materials - payroll) / revenue in %: what is left after ingredients and packaging
    (the purchases) and labour (the payroll), Bake Magazine's gross margin."""
    return round(100 * (revenue - materials - payroll) / revenue, 2) if revenue else None


def kpis(ctx: Ctx) -> list[dict[str, Any]]:
    out = []
    for month in range(1, ctx.spec.months + 1):
        ev = ctx.by_month[month]
        revenue = sum(cents(e.amount) for e in ev if e.event_type == "sale") + sum(
            cents(e.amount) for e in ev if e.event_type == "refund"
        )
        costs = -sum(
            cents(e.amount)
            for e in ev
            if e.amount is not None and cents(e.amount) < 0 and e.event_type != "refund"
        )
        payroll = -sum(cents(e.amount) for e in ev if e.event_type == "payroll")
        materials = -sum(cents(e.amount) for e in ev if e.event_type == "purchase")
        produced = waste = cogs = 0
        for e in ev:
            if e.event_type == "production":
                for line in e.attributes["lines"]:
                    produced += line["produced"]
                    waste += line["waste"]
                    cogs += line["produced"] * line["unit_cost_cents"]
        out.append({"month": month, "revenue": revenue / 100, "costs": costs / 100, "margin": (revenue - costs) / 100,
                    "payroll": payroll / 100, "materials": materials / 100,
                    "gross_margin_after_labour_pct": gross_margin_pct(revenue, materials, payroll),
                    "food_cost_pct": round(100 * cogs / revenue, 2) if revenue else None,
                    "waste_pct": round(100 * waste / produced, 2) if produced else None,
                    "tickets": sum(1 for e in ev if e.event_type == "sale")})  # fmt: skip
    return out


def year_kpis(monthly: list[dict[str, Any]]) -> dict[str, Any]:
    """The window's totals: revenue, materials, payroll, costs, operating margin and the gross
    margin after materials and labour."""
    revenue, costs = sum(m["revenue"] for m in monthly), sum(m["costs"] for m in monthly)
    materials, payroll = sum(m["materials"] for m in monthly), sum(m["payroll"] for m in monthly)
    return {"revenue": round(revenue, 2), "materials": round(materials, 2), "payroll": round(payroll, 2),
            "costs": round(costs, 2), "margin": round(revenue - costs, 2),
            "operating_margin_pct": round(100 * (revenue - costs) / revenue, 2) if revenue else None,
            "gross_margin_after_labour_pct": gross_margin_pct(revenue, materials, payroll)}  # fmt: skip


def checks(ctx: Ctx, monthly: list[dict[str, Any]]) -> list[CheckResult]:
    revenue = sum(m["revenue"] for m in monthly)
    cogs = sum(m["food_cost_pct"] * m["revenue"] / 100 for m in monthly if m["food_cost_pct"])
    waste = [m["waste_pct"] for m in monthly if m["waste_pct"] is not None]
    margin = year_kpis(monthly)["gross_margin_after_labour_pct"]
    return [
        line_arithmetic(ctx), unit_price_catalogue(ctx), refund_after_sale(ctx), mass_balance(ctx),
        ingredient_purchases(ctx),
        band("band_food_cost", 100 * cogs / revenue if revenue else None, 20, 35, "food cost", " %"),
        band("band_waste", sum(waste) / len(waste) if waste else None, 3, 8, "unsold production", " %"),
        band("band_gross_margin", margin, 35, 55, "gross margin after materials and labour", " %"),
    ]  # fmt: skip
