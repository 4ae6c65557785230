"""Bakery checks: cardinality, line arithmetic, catalogue prices, refunds, mass balance, ingredient
purchases; KPIs and bands."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from typing import Any

from cube_contracts import BusinessEvent, CheckResult
from cube_engine.validation.context import Ctx, band, cents, result

_product_id = itemgetter("product_id")


def _steps(product: Any) -> list[tuple[date, Any]]:
    """A product's price history as (first day, price) steps, in the catalogue's order."""
    return [(date.fromisoformat(step["from"]), step["price_cents"]) for step in product.price_history]


def _price(steps: list[tuple[date, Any]], day: date) -> int:
    price = 0
    for since, step_price in steps:
        if since <= day:
            price = step_price
    return int(price)


class _Prices(dict[date, dict[str, int]]):
    """The catalogue prices in force on a day, `prices[day][product_id]`, worked out once per day from
    the products' price histories, read once."""

    def __init__(self, products: dict[str, Any]) -> None:
        super().__init__()
        self.steps = {product_id: _steps(product) for product_id, product in products.items()}

    def __missing__(self, day: date) -> dict[str, int]:
        found = self[day] = {product_id: _price(steps, day) for product_id, steps in self.steps.items()}
        return found


def line_cents(quantity: int, unit_price_cents: int, discount_pct: int) -> int:
    """quantity x unit price x (1 - discount %), rounded half up to the cent, in integers."""
    return (quantity * unit_price_cents * (100 - discount_pct) + 50) // 100


@dataclass
class _Sales:
    """What the checks of the sales read, gathered in one walk over the sales and their lines
    (`_sales`). Each list of problems is in the order of the events, as its check alone finds them."""

    count: int = 0  # sales
    by_ticket: dict[Any, BusinessEvent] = field(default_factory=dict)  # the last sale of each ticket id
    sold: dict[tuple[date, str], int] = field(default_factory=dict)  # units sold per day and product
    lines: int = 0  # lines of all sales
    shape: list[str] = field(default_factory=list)  # cardinality: lines per ticket, one line per product
    arithmetic: list[str] = field(default_factory=list)  # line_arithmetic
    prices: list[str] = field(default_factory=list)  # unit_price_catalogue


def _sales(ctx: Ctx) -> _Sales:
    """Walk the sales once for cardinality, line_arithmetic, unit_price_catalogue, refund_after_sale
    and mass_balance (each reads it through `Ctx.once`)."""
    prices = _Prices({p.id: p for p in ctx.master.products})
    sales = ctx.by_type["sale"]
    out = _Sales(count=len(sales))
    by_ticket, sold = out.by_ticket, out.sold
    for e, day in zip(sales, ctx.days_of("sale"), strict=True):
        ticket, lines = e.attributes.get("ticket_id"), e.attributes.get("lines", [])
        by_ticket[ticket] = e
        out.lines += len(lines)
        if not 1 <= len(lines) <= 10:
            out.shape.append(f"ticket {ticket} has {len(lines)} lines (1 to 10 allowed)")
        if len(lines) > 1 and len(set(map(_product_id, lines))) != len(lines):
            repeated = sorted(p for p, n in Counter(map(_product_id, lines)).items() if n > 1)
            out.shape.append(
                f"ticket {ticket} has {len(repeated)} product(s) on more than one line: {', '.join(repeated)}"
            )
        catalogue = prices[day]
        for line in lines:
            product_id, quantity, unit_price = line["product_id"], line["quantity"], line["unit_price_cents"]
            discount = line.get("discount_pct", 0)
            key = (day, product_id)
            sold[key] = sold.get(key, 0) + quantity
            expected, stated = line_cents(quantity, unit_price, discount), line["line_cents"]
            if stated != expected:
                shown = f" x (1 - {discount} %)" if discount else ""
                out.arithmetic.append(f"ticket {ticket} line {product_id}: {quantity} x {unit_price}{shown} = {expected}, "
                                      f"line says {stated} cents")  # fmt: skip
            price = catalogue.get(product_id)
            if price is None:
                out.prices.append(f"ticket {ticket}: unknown product {product_id}")
            elif unit_price != price and not discount:
                out.prices.append(
                    f"ticket {ticket} on {day}: {product_id} at {unit_price} cents, catalogue says {price}"
                )
    return out


def line_arithmetic(ctx: Ctx) -> CheckResult:
    sales = ctx.once(_sales)
    return result(
        "line_arithmetic",
        sales.arithmetic,
        sales.lines,
        ok="every line = quantity x unit price x (1 - discount)",
    )


def cardinality(ctx: Ctx) -> CheckResult:
    """1-10 lines per ticket, one line per product, one sale per ticket id, at most one refund each."""
    sales = ctx.once(_sales)
    problems = list(sales.shape)
    if len(sales.by_ticket) != sales.count:  # a ticket id used twice: count them
        tickets = Counter(e.attributes.get("ticket_id") for e in ctx.by_type["sale"])
        problems += [f"ticket id {t} used by {n} sales" for t, n in tickets.items() if n > 1]
    refunds = Counter(e.attributes.get("ticket_id") for e in ctx.by_type["refund"])
    problems += [f"ticket {t} refunded {n} times (at most once)" for t, n in refunds.items() if n > 1]
    return result("cardinality_bounds", problems, ok=f"{len(sales.by_ticket)} tickets: 1-10 lines, one line per "
                  "product, one sale per ticket id, at most one refund")  # fmt: skip


def unit_price_catalogue(ctx: Ctx) -> CheckResult:
    return result(
        "unit_price_catalogue",
        ctx.once(_sales).prices,
        ok="every unit price is the catalogue price in force that day",
    )


def refund_after_sale(ctx: Ctx) -> CheckResult:
    sales = ctx.once(_sales).by_ticket
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
    sold = ctx.once(_sales).sold
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


def _production(ctx: Ctx) -> dict[int, list[int]]:
    """Per month of the scenario: units produced, units wasted and the cost of what was produced."""
    made = {month: [0, 0, 0] for month in range(1, ctx.spec.months + 1)}
    for e in ctx.by_type["production"]:
        row = made.get(e.month)
        if row is not None:
            for line in e.attributes["lines"]:
                row[0] += line["produced"]
                row[1] += line["waste"]
                row[2] += line["produced"] * line["unit_cost_cents"]
    return made


def kpis(ctx: Ctx) -> list[dict[str, Any]]:
    out = []
    production = _production(ctx)
    for month in range(1, ctx.spec.months + 1):
        flows = ctx.flows[month]
        none = [0, 0, 0]
        sale, refund = flows.get("sale", none), flows.get("refund", none)
        revenue = sale[0] + sale[1] + refund[0] + refund[1]
        costs = -sum(money_out for kind, (_, money_out, _) in flows.items() if kind != "refund")
        payroll = -sum(flows.get("payroll", none)[:2])
        materials = -sum(flows.get("purchase", none)[:2])
        produced, waste, cogs = production[month]
        out.append({"month": month, "revenue": revenue / 100, "costs": costs / 100, "margin": (revenue - costs) / 100,
                    "payroll": payroll / 100, "materials": materials / 100,
                    "gross_margin_after_labour_pct": gross_margin_pct(revenue, materials, payroll),
                    "food_cost_pct": round(100 * cogs / revenue, 2) if revenue else None,
                    "waste_pct": round(100 * waste / produced, 2) if produced else None,
                    "tickets": sale[2]})  # fmt: skip
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
