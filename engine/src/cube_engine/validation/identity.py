"""Checks every business type shares: keys, references, window, direction of money, payroll."""

from collections import Counter
from datetime import date
from operator import attrgetter

from cube_contracts import REFERENCE_FIELDS, CheckResult
from cube_engine.sim.common import payroll_cents
from cube_engine.validation.context import Ctx, cents, result

# Which sign an event type's amount has: +1 money in, -1 money out, 0 no money.
DIRECTION = {
    "sale": 1, "invoice_paid": 1, "checkout": 1, "ancillary_sale": 1, "funding_received": 1,
    "refund": -1, "payroll": -1, "purchase": -1, "expense": -1,
    "booking": 0, "cancellation": 0, "check_in": 0, "production": 0, "waste": 0, "hire": 0, "departure": 0,
    "narrative": 0, "notable_event": 0, "trial_started": 0, "subscription_started": 0, "subscription_upgraded": 0, "subscription_downgraded": 0,
    "subscription_cancelled": 0, "subscription_reactivated": 0, "payment_failed": 0,
    "bank_statement": 0,
}  # fmt: skip
REF_LISTS = {"customer_id": "customers", "product_id": "products", "room_id": "rooms",
             "room_type_id": "room_types", "plan_id": "plans", "employee_id": "employees",
             "supplier_id": "suppliers"}  # fmt: skip


def keys_unique(ctx: Ctx) -> CheckResult:
    problems = [
        f"event_id {k} appears {n} times" for k, n in Counter(e.event_id for e in ctx.events).items() if n > 1
    ]
    for kind in REF_LISTS.values():
        ids = Counter(x.id for x in getattr(ctx.master, kind))
        problems += [f"{kind} id {k} appears {n} times" for k, n in ids.items() if n > 1]
    problems += [f"event {e.event_id} has no event_type" for e in ctx.events if not e.event_type]
    return result("keys_unique", problems, ok=f"{len(ctx.events)} event ids and every master id unique")


def references_resolve(ctx: Ctx) -> CheckResult:
    known = {ref: {x.id for x in getattr(ctx.master, kind)} for ref, kind in REF_LISTS.items()}
    # The values each field takes, gathered first: only those that name no record are looked for.
    unknown = {ref: set(map(attrgetter(ref), ctx.events)) - known[ref] - {None} for ref in REFERENCE_FIELDS}
    problems = []
    if any(unknown.values()):
        for e in ctx.events:
            for ref in REFERENCE_FIELDS:
                value = getattr(e, ref)
                if value in unknown[ref]:
                    problems.append(
                        f"event {e.event_id} ({e.event_type}, month {e.month}) has unknown {ref} {value}"
                    )
    return result("references_resolve", problems, ok="every reference names a master-data record")


def event_in_month(ctx: Ctx) -> CheckResult:
    problems = []
    months = ctx.spec.months
    bounds = {month: ctx.bounds(month) for month in ctx.by_month}
    for e, day in zip(ctx.events, ctx.days, strict=True):
        first, end = bounds[e.month]
        if not first <= day < end or not 1 <= e.month <= months:
            problems.append(
                f"event {e.event_id} ({e.event_type}) dated {day} is outside month {e.month} ({first}..{end})"
            )
    return result("event_in_month", problems, len(ctx.events), ok="every event falls inside its month")


def amount_direction(ctx: Ctx) -> CheckResult:
    problems = []
    currency = ctx.master.company.currency
    for e, amount in zip(ctx.events, ctx.amounts, strict=True):
        sign = DIRECTION.get(e.event_type)
        if sign is None:
            problems.append(f"event {e.event_id} has unknown event_type {e.event_type!r}")
        elif sign == 0 and e.amount is not None:
            problems.append(f"{e.event_type} {e.event_id} moves no money but has amount {e.amount}")
        elif sign != 0 and amount * sign <= 0:  # a missing amount counts 0 cents
            problems.append(
                f"{e.event_type} {e.event_id} has amount {e.amount}, expected {'> 0' if sign > 0 else '< 0'}"
            )
        elif sign != 0 and e.currency != currency:
            problems.append(
                f"{e.event_type} {e.event_id} is in {e.currency}, the company books in {currency}"
            )
    return result("amount_direction", problems, len(ctx.events), ok="money in > 0, money out < 0, none null")


def payroll_matches_salaries(ctx: Ctx) -> CheckResult:
    staff = {e.id: e for e in ctx.master.employees}
    problems = []
    paid: dict[tuple[int, str], int] = {}
    for e in ctx.by_type["payroll"]:
        key = (e.month, e.employee_id or "")
        paid[key] = paid.get(key, 0) - cents(e.amount)
    for month in range(1, ctx.spec.months + 1):
        first, end = ctx.bounds(month)
        for emp in staff.values():
            expected = payroll_cents(emp, first, end)
            got = paid.pop((month, emp.id), 0)
            if got != expected:
                problems.append(
                    f"month {month} {emp.id}: paid {got / 100:.2f}, salary prorated {expected / 100:.2f}"
                )
    problems += [f"month {m}: payroll to unknown employee {who}" for (m, who) in paid]
    hires = {e.employee_id for e in ctx.by_type["hire"]}
    for emp in staff.values():
        hired = date.fromisoformat(emp.hired_on)  # type: ignore[attr-defined]
        if hired >= ctx.spec.start and hired < ctx.bounds(ctx.spec.months)[1] and emp.id not in hires:
            problems.append(f"{emp.id} hired on {hired} has no hire event")
    return result(
        "payroll_matches_salaries", problems, ok="payroll = active salaries, prorated; hires recorded"
    )
