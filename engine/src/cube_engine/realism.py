"""The realism report: each business type at a few seeds, every KPI beside its industry figure
(REALISM.md) and the NRMSE across seeds, so anyone can see how close the simulation sits."""

import math
from collections.abc import Callable
from typing import Any
from uuid import uuid4

from cube_contracts import BusinessType, ScenarioSpec
from cube_engine.simulated import generate
from cube_engine.validation import validate

Kpi = Callable[[dict[str, Any]], float | None]


def _sum(monthly: list[dict[str, Any]], key: str) -> float:
    return float(sum(m[key] or 0 for m in monthly))


def _bakery(r: dict[str, Any]) -> dict[str, float | None]:
    m = r["monthly"]
    revenue = _sum(m, "revenue")
    cogs = sum((k["food_cost_pct"] or 0) * k["revenue"] / 100 for k in m)
    waste = [k["waste_pct"] for k in m if k["waste_pct"] is not None]
    lines = [len(e.attributes["lines"]) for e in r["events"] if e.event_type == "sale"]
    units = [sum(x["quantity"] for x in e.attributes["lines"]) for e in r["events"] if e.event_type == "sale"]
    margin = revenue - _sum(m, "materials") - _sum(m, "payroll")
    return {"food cost % of sales": 100 * cogs / revenue if revenue else None,
            "gross margin after labour %": 100 * margin / revenue if revenue else None,
            "unsold production %": sum(waste) / len(waste) if waste else None,
            "units per line": sum(units) / sum(lines) if lines else None}  # fmt: skip


def _hotel(r: dict[str, Any]) -> dict[str, float | None]:
    m = r["monthly"]
    sold, available, revenue = _sum(m, "rooms_sold"), _sum(m, "rooms_available"), _sum(m, "room_revenue")
    bookings = [e for e in r["events"] if e.event_type == "booking"]
    stays = [e for e in r["events"] if e.event_type == "checkout"]
    short = [b for b in bookings if b.attributes["lead_days"] < 7]
    return {"occupancy %": 100 * sold / available, "ADR": revenue / sold if sold else None,
            "RevPAR": revenue / available, "January occupancy %": m[0]["occupancy_pct"],
            "July occupancy %": m[6]["occupancy_pct"] if len(m) > 6 else None,
            "bookings cancelled %": 100 * _sum(m, "cancellations") / max(1.0, _sum(m, "bookings")),
            "booked under 7 days ahead %": 100 * len(short) / max(1, len(bookings)),
            "nights per stay": sum(e.attributes["nights"] for e in stays) / max(1, len(stays))}  # fmt: skip


def _saas(r: dict[str, Any]) -> dict[str, float | None]:
    m = r["monthly"]
    churn = [k["churn_rate_pct"] for k in m if k["churn_rate_pct"] is not None]
    nrr = 100.0
    for k in m:
        nrr *= (k["nrr_pct"] or 100) / 100
    new, expansion = _sum(m, "new_mrr"), _sum(m, "expansion_mrr")
    return {"monthly logo churn %": sum(churn) / len(churn) if churn else None,
            "net revenue retention % (year)": nrr,
            "expansion % of new + expansion MRR": 100 * expansion / (new + expansion) if new + expansion else None}  # fmt: skip


# KPI -> (industry figure, source) from REALISM.md
TARGETS: dict[BusinessType, tuple[Callable[[dict[str, Any]], dict[str, float | None]], dict[str, tuple[float, str]]]] = {
    BusinessType.BAKERY: (_bakery, {
        "food cost % of sales": (30.0, "Bake Magazine: under 35 %, ideally under 30 %"),
        "gross margin after labour %": (45.0, "Bake Magazine: 44-46 % after labour, materials, packaging"),
        "unsold production %": (5.0, "Pietrangeli et al. 2023: 4-6 %"),
        "units per line": (1.5, "French bakery ticket data: about 1.5"),
    }),
    BusinessType.HOTEL: (_hotel, {
        "occupancy %": (63.0, "CoStar US 2024"), "ADR": (158.67, "CoStar US 2024"),
        "RevPAR": (99.94, "CoStar US 2024"), "January occupancy %": (52.0, "CoStar"),
        "July occupancy %": (73.5, "CoStar, peak July week"),
        "bookings cancelled %": (32.5, "Kalibri Labs 2023: 30-35 %"),
        "booked under 7 days ahead %": (59.0, "Kalibri Labs 2023"),
        "nights per stay": (4.0, "Dohop: about 4 days"),
    }),
    BusinessType.TECH_STARTUP: (_saas, {
        "monthly logo churn %": (4.9, "Recurly, B2B"), "net revenue retention % (year)": (102.0, "SaaS Capital 2023"),
        "expansion % of new + expansion MRR": (30.5, "ChartMogul 2023: 29-32 % of new ARR"),
    }),
}  # fmt: skip


def report(seeds: int = 5, months: int = 12) -> list[dict[str, Any]]:
    """One row per (business type, KPI): mean simulated value, industry figure, NRMSE."""
    rows = []
    for business, (measure, targets) in TARGETS.items():
        values: dict[str, list[float]] = {k: [] for k in targets}
        failures = 0
        for seed in range(1, seeds + 1):
            spec = ScenarioSpec(business_type=business, seed=seed, months=months)
            master, plans, month_events = generate(spec, uuid4())
            events = [e for m in month_events for e in m]
            checked = validate(spec, master, plans, events)
            failures += not checked.passed
            for k, v in measure({"monthly": checked.kpis["monthly"], "events": events}).items():
                if v is not None:
                    values[k].append(v)
        for kpi, (target, source) in targets.items():
            got = values[kpi]
            mean = sum(got) / len(got) if got else math.nan
            nrmse = (
                math.sqrt(sum((v - target) ** 2 for v in got) / len(got)) / abs(target) if got else math.nan
            )
            rows.append({"business": business.value, "kpi": kpi, "simulated": mean, "industry": target,
                         "nrmse": nrmse, "source": source, "identity_failures": failures})  # fmt: skip
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'business':<13} {'KPI':<36} {'simulated':>10} {'industry':>10} {'NRMSE':>7}  source"]
    for r in rows:
        lines.append(f"{r['business']:<13} {r['kpi']:<36} {r['simulated']:>10.2f} {r['industry']:>10.2f} "
                     f"{r['nrmse']:>7.3f}  {r['source']}")  # fmt: skip
    failures = {r["business"]: r["identity_failures"] for r in rows}
    lines.append(
        "identity check failures per business type: " + ", ".join(f"{k} {v}" for k, v in failures.items())
    )
    return "\n".join(lines)
