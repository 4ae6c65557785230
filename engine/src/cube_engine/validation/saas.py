"""Tech startup checks: MRR and subscriber roll-forwards, movement classes, normalisation,
invoices; MRR KPIs, churn and NRR against SaaS benchmarks."""

from collections import Counter, defaultdict
from typing import Any

from cube_contracts import CheckResult
from cube_engine.validation.context import Ctx, band, cents, result

MOVES = ("subscription_started", "subscription_upgraded", "subscription_downgraded", "subscription_cancelled",
         "subscription_reactivated")  # fmt: skip


def _moves(ctx: Ctx, month: int) -> list[Any]:
    return sorted((e for t in MOVES for e in ctx.by_type[t] if e.month == month), key=lambda e: e.occurred_at)


def mrr_roll_forward(ctx: Ctx) -> CheckResult:
    problems = []
    for m, plan in enumerate(ctx.plans, start=1):
        delta: dict[str, int] = defaultdict(int)
        for e in _moves(ctx, m):
            delta[e.attributes["movement"]] += e.attributes["mrr_delta_cents"]
        end = plan["opening_mrr_cents"] + sum(delta.values())
        if end != plan["closing_mrr_cents"]:
            problems.append(f"month {m}: start {plan['opening_mrr_cents'] / 100:.2f} + movements "
                            f"{sum(delta.values()) / 100:.2f} = {end / 100:.2f}, end is {plan['closing_mrr_cents'] / 100:.2f}")  # fmt: skip
        if m > 1 and plan["opening_mrr_cents"] != ctx.plans[m - 2]["closing_mrr_cents"]:
            problems.append(
                f"month {m} opens at {plan['opening_mrr_cents']} but month {m - 1} closed at {ctx.plans[m - 2]['closing_mrr_cents']}"
            )
    return result(
        "mrr_roll_forward",
        problems,
        ok="end MRR = start + new + reactivation + expansion - contraction - churn",
    )


def movement_classes(ctx: Ctx) -> CheckResult:
    problems = []
    for e in (e for t in MOVES for e in ctx.by_type[t]):
        a = e.attributes
        before, after, kind = a["mrr_before_cents"], a["mrr_after_cents"], a["movement"]
        expected = ("new" if before == 0 and e.event_type == "subscription_started" else
                    "reactivation" if before == 0 and after > 0 else "churn" if after == 0 else
                    "expansion" if after > before else "contraction")  # fmt: skip
        if kind != expected or a["mrr_delta_cents"] != after - before:
            problems.append(
                f"{e.event_type} {e.event_id} ({e.customer_id}): {before} -> {after} is {expected}, recorded {kind}"
            )
    return result(
        "mrr_movement_classes", problems, ok="new, expansion, contraction, churn, reactivation as defined"
    )


def mrr_normalisation(ctx: Ctx) -> CheckResult:
    plans = {p.id: p for p in ctx.master.plans}
    problems = []
    for p in plans.values():
        expected = p.price_cents // (12 if p.interval == "year" else 1)  # type: ignore[attr-defined]
        if p.mrr_cents != expected:  # type: ignore[attr-defined]
            problems.append(
                f"plan {p.id}: MRR {p.mrr_cents} cents, price {p.price_cents} per {p.interval} gives {expected}"
            )  # type: ignore[attr-defined]
    for e in (e for t in MOVES for e in ctx.by_type[t]):
        after = e.attributes["mrr_after_cents"]
        if after and plans.get(e.plan_id or "") and after != plans[e.plan_id].mrr_cents:  # type: ignore[index, attr-defined]
            problems.append(
                f"{e.event_type} {e.event_id}: MRR {after} is not plan {e.plan_id}'s {plans[e.plan_id].mrr_cents}"
            )  # type: ignore[index, attr-defined]
    return result("mrr_normalisation", problems, ok="annual plans count 1/12; free plans and trials count 0")


def subscriber_roll_forward(ctx: Ctx) -> CheckResult:
    problems = []
    for m, plan in enumerate(ctx.plans, start=1):
        started = ended = 0
        for e in _moves(ctx, m):
            started += e.attributes["mrr_before_cents"] == 0 and e.attributes["mrr_after_cents"] > 0
            ended += e.attributes["mrr_after_cents"] == 0 and e.attributes["mrr_before_cents"] > 0
        if plan["opening_subscribers"] + started - ended != plan["closing_subscribers"]:
            problems.append(
                f"month {m}: {plan['opening_subscribers']} + {started} - {ended} != {plan['closing_subscribers']} subscribers"
            )
    return result(
        "subscriber_roll_forward", problems, ok="active at end = start + new + reactivated - churned"
    )


def invoices_match_plans(ctx: Ctx) -> CheckResult:
    plans = {p.id: p for p in ctx.master.plans}
    problems = [f"invoice {e.event_id}: {e.amount} is not plan {e.plan_id}'s price"
                for e in ctx.by_type["invoice_paid"]
                if e.plan_id not in plans or cents(e.amount) != plans[e.plan_id].price_cents]  # type: ignore[attr-defined]  # fmt: skip
    return result(
        "invoices_match_plans",
        problems,
        len(ctx.by_type["invoice_paid"]),
        ok="every invoice is its plan's price",
    )


def subscription_chain(ctx: Ctx) -> CheckResult:
    """At most one subscription per customer: each movement starts where the last one ended."""
    last: dict[str, int] = {}
    problems = []
    for e in sorted((e for t in MOVES for e in ctx.by_type[t]), key=lambda e: (e.occurred_at, e.month)):
        customer = e.customer_id or ""
        before = e.attributes["mrr_before_cents"]
        if customer in last and last[customer] != before:
            problems.append(
                f"{customer}: {e.event_type} starts at MRR {before}, the last movement ended at {last[customer]}"
            )
        last[customer] = e.attributes["mrr_after_cents"]
    return result("subscription_chain", problems, ok="one subscription per customer; movements chain")


OPENS = ("subscription_started", "subscription_reactivated")


def cardinality(ctx: Ctx) -> CheckResult:
    """One trial per customer, at most one paid invoice per customer and month, and at most one
    subscription at once: a subscription starts only when none runs, changes only while one does."""
    problems = []
    trials = Counter(e.customer_id for e in ctx.by_type["trial_started"])
    problems += [f"{c} started {n} trials (at most 1)" for c, n in trials.items() if n > 1]
    paid = Counter((e.customer_id, e.month) for e in ctx.by_type["invoice_paid"])
    problems += [f"{c} has {n} paid invoices in month {m} (at most 1)" for (c, m), n in paid.items() if n > 1]
    active: dict[str, bool] = {}
    for e in sorted((e for t in MOVES for e in ctx.by_type[t]), key=lambda e: (e.occurred_at, e.month)):
        customer = e.customer_id or ""
        opens = e.event_type in OPENS
        running = active.get(customer, not opens)  # the first movement tells whether one ran before
        if opens and running:
            problems.append(f"{customer}: {e.event_type} on {ctx.day(e)} while a subscription is active")
        elif not opens and not running:
            problems.append(f"{customer}: {e.event_type} on {ctx.day(e)} with no active subscription")
        active[customer] = e.event_type != "subscription_cancelled"
    return result("cardinality_bounds", problems, ok="one trial per customer, one paid invoice per customer "
                  "and month, at most one subscription at once")  # fmt: skip


def kpis(ctx: Ctx) -> list[dict[str, Any]]:
    out = []
    for m, plan in enumerate(ctx.plans, start=1):
        delta: dict[str, int] = defaultdict(int)
        churned = 0
        for e in _moves(ctx, m):
            delta[e.attributes["movement"]] += e.attributes["mrr_delta_cents"]
            churned += e.attributes["movement"] == "churn"
        flows = ctx.flows[m]
        income = sum(row[0] for kind, row in flows.items() if kind != "funding_received")
        costs = -sum(row[1] for row in flows.values())
        start = plan["opening_mrr_cents"]
        retained = start + delta["expansion"] + delta["contraction"] + delta["churn"]
        out.append({"month": m, "revenue": income / 100, "costs": costs / 100, "margin": (income - costs) / 100,
                    "mrr_start": start / 100, "mrr_end": plan["closing_mrr_cents"] / 100, "arr_end": 12 * plan["closing_mrr_cents"] / 100,
                    "new_mrr": delta["new"] / 100, "expansion_mrr": delta["expansion"] / 100,
                    "contraction_mrr": delta["contraction"] / 100, "churned_mrr": delta["churn"] / 100,
                    "reactivation_mrr": delta["reactivation"] / 100, "subscribers": plan["closing_subscribers"],
                    "churn_rate_pct": round(100 * churned / plan["opening_subscribers"], 2) if plan["opening_subscribers"] else None,
                    "nrr_pct": round(100 * retained / start, 2) if start else None})  # fmt: skip
    return out


def checks(ctx: Ctx, monthly: list[dict[str, Any]]) -> list[CheckResult]:
    churn = [k["churn_rate_pct"] for k in monthly if k["churn_rate_pct"] is not None]
    nrr = [k["nrr_pct"] for k in monthly if k["nrr_pct"] is not None]
    yearly_nrr = None
    if nrr:
        product = 1.0
        for value in nrr:
            product *= value / 100
        yearly_nrr = 100 * product ** (12 / len(nrr))
    return [
        mrr_roll_forward(ctx), movement_classes(ctx), mrr_normalisation(ctx), subscriber_roll_forward(ctx),
        invoices_match_plans(ctx), subscription_chain(ctx),
        band("band_monthly_churn", sum(churn) / len(churn) if churn else None, 1.5, 8.0, "monthly logo churn", " %"),
        band("band_nrr", yearly_nrr, 85, 115, "net revenue retention (annualised)", " %"),
    ]  # fmt: skip
