"""Checks of plausibility and reproducibility (REALISM.md 17-19, 21, 22): field coherence and
determinism fail a scenario; calibration, seasonality and heavy tails warn."""

import math
import unicodedata
from collections import Counter, defaultdict
from typing import Any

from cube_contracts import BusinessType, CheckResult, EngineName
from cube_engine.sim import bakery as sim_bakery
from cube_engine.sim import common
from cube_engine.sim import hotel as sim_hotel
from cube_engine.sim import saas as sim_saas
from cube_engine.sim.streams import days
from cube_engine.validation.context import Ctx, result


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def field_coherence(ctx: Ctx) -> CheckResult:
    problems = []
    company = ctx.master.company
    location, _ = common.CURRENCIES.get(company.currency, ("", ""))
    if location and location != company.location:
        problems.append(
            f"company books in {company.currency} but sits in {company.location} (expected {location})"
        )
    for kind in ("customers", "employees"):
        for entity in getattr(ctx.master, kind):
            email = getattr(entity, "email", None)
            if email is None:
                continue
            person = getattr(entity, "contact", None) or entity.name
            first = _ascii(person.split()[0]) if person.split() else ""
            local, _, domain = email.partition("@")
            if not domain or "." not in domain or not local.startswith(first):
                problems.append(f"{kind} {entity.id}: e-mail {email} does not belong to {person}")
    return result("field_coherence", problems, ok="names, e-mails, currency and location agree")


def determinism(ctx: Ctx) -> CheckResult:
    """Regenerate one month alone from the plan; it must reproduce the stored events' hash."""
    from cube_engine.simulated import content_hash, render_month

    if ctx.spec.engine is not EngineName.SIMULATED or not ctx.events:
        return CheckResult(
            name="determinism", passed=True, severity="error", details="not applicable: LLM text"
        )
    month = ctx.spec.seed % ctx.spec.months + 1
    stored = ctx.by_month.get(month, [])
    again = render_month(ctx.events[0].scenario_id, ctx.spec, ctx.master, month, ctx.plans[month - 1])
    if content_hash(again) == content_hash(stored):
        return CheckResult(name="determinism", passed=True, severity="error",
                           details=f"month {month} regenerated alone reproduces its hash")  # fmt: skip
    return result("determinism", [f"month {month} regenerated alone differs from the stored month "
                                  f"({len(again)} vs {len(stored)} events)"])  # fmt: skip


def _nrmse(actual: list[float], expected: list[float]) -> float | None:
    pairs = [(a, e) for a, e in zip(actual, expected, strict=True) if e]
    if not pairs:
        return None
    mean = sum(e for _, e in pairs) / len(pairs)
    return math.sqrt(sum((a - e) ** 2 for a, e in pairs) / len(pairs)) / mean


def calibration(ctx: Ctx, monthly: list[dict[str, Any]]) -> CheckResult:
    """Monthly counts against the scenario's own target profile (the plan's expectation)."""
    actual: list[float]
    expected: list[float]
    if ctx.spec.business_type is BusinessType.BAKERY:
        actual = [float(k["tickets"]) for k in monthly]
        expected = []
        for m, plan in enumerate(ctx.plans, start=1):
            first, end = ctx.bounds(m)
            factors = sum(sim_bakery.WEEKDAY[d.weekday()] * sim_bakery.HOLIDAYS.get((d.month, d.day), 1.0)
                          for d in days(first, end))  # fmt: skip
            expected.append(plan["demand"] * factors)
        label, limit = "tickets per month", 0.15
    elif ctx.spec.business_type is BusinessType.HOTEL:
        actual = [k["occupancy_pct"] for k in monthly]
        expected = [
            100 * sim_hotel.OCCUPANCY[ctx.bounds(m)[0].month - 1] for m in range(1, ctx.spec.months + 1)
        ]
        label, limit = "monthly occupancy", 0.2
    else:
        trials: dict[int, int] = defaultdict(int)
        for e in ctx.by_type["trial_started"]:
            trials[e.month] += 1
        params = common.resolve_params(ctx.spec, sim_saas.PARAMS)
        actual = [float(trials[m]) for m in range(1, ctx.spec.months + 1)]
        expected = [params["signups_per_month"] * ctx.spec.scale * (1 + params["growth"]) ** ((m - 1) / 12)
                    for m in range(1, ctx.spec.months + 1)]  # fmt: skip
        label, limit = "trials per month", 0.35
    error = _nrmse(actual, expected)
    if error is None:
        return CheckResult(name="calibration", passed=True, severity="warning", details=f"{label}: no target")
    return CheckResult(name="calibration", passed=error <= limit, severity="warning",
                       details=f"NRMSE of {label} against the plan's target: {error:.3f} (limit {limit})")  # fmt: skip


def seasonality(ctx: Ctx, monthly: list[dict[str, Any]]) -> CheckResult:
    if ctx.spec.business_type is BusinessType.BAKERY:
        per_day = Counter(ctx.days_of("sale"))
        by_weekday: dict[int, list[int]] = defaultdict(list)
        for d, n in per_day.items():
            by_weekday[d.weekday()].append(n)
        midweek = [n for wd in (1, 2, 3) for n in by_weekday[wd]]
        saturday = by_weekday[5]
        if not midweek or not saturday:
            return CheckResult(
                name="seasonality", passed=True, severity="warning", details="too few days to tell"
            )
        index = (sum(saturday) / len(saturday)) / (sum(midweek) / len(midweek))
        return CheckResult(name="seasonality", passed=index >= 1.2, severity="warning",
                           details=f"Saturday index {index:.2f} against Tuesday-Thursday (expected >= 1.2)")  # fmt: skip
    if ctx.spec.business_type is BusinessType.HOTEL and len(monthly) >= 6:
        occ = [k["occupancy_pct"] for k in monthly]
        amplitude = max(occ) - min(occ)
        return CheckResult(name="seasonality", passed=amplitude >= 8, severity="warning",
                           details=f"monthly occupancy ranges {min(occ):.1f}-{max(occ):.1f} % (amplitude >= 8 points expected)")  # fmt: skip
    return CheckResult(name="seasonality", passed=True, severity="warning", details="not applicable")


def heavy_tails(ctx: Ctx) -> CheckResult:
    revenue: dict[str, int] = defaultdict(int)
    for e, amount in zip(ctx.events, ctx.amounts, strict=True):
        if amount > 0 and e.customer_id:
            revenue[e.customer_id] += amount
    if len(revenue) < 20:
        return CheckResult(
            name="heavy_tails", passed=True, severity="warning", details="too few customers to tell"
        )
    ordered = sorted(revenue.values(), reverse=True)
    top = sum(ordered[: max(1, len(ordered) // 10)]) / sum(ordered)
    return CheckResult(name="heavy_tails", passed=0.2 <= top <= 0.8, severity="warning",
                       details=f"top 10 % of {len(ordered)} paying customers carry {100 * top:.1f} % of revenue (20-80 % expected)")  # fmt: skip


def checks(ctx: Ctx, monthly: list[dict[str, Any]]) -> list[CheckResult]:
    return [field_coherence(ctx), determinism(ctx), calibration(ctx, monthly), seasonality(ctx, monthly),
            heavy_tails(ctx)]  # fmt: skip
