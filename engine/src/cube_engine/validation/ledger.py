"""Checks every business type shares on its books: header totals, entities active on the day,
the cash and headcount roll-forwards (REALISM.md 4, 6, 8, 15)."""

from collections import Counter, defaultdict
from datetime import date
from typing import Any

from cube_contracts import CheckResult
from cube_engine.validation.context import Ctx, result


def _eur(value: int) -> str:
    return f"{value / 100:,.2f}"


def _lines_cents(lines: list[dict[str, Any]]) -> int | None:
    """The sum of the lines' cents, None if a line has no price."""
    total = 0
    for x in lines:
        if "line_cents" not in x:
            return None
        total += x["line_cents"]
    return total


def header_totals(ctx: Ctx) -> CheckResult:
    """An event that carries priced lines is their sum, plus tax, minus header discounts."""
    problems, checked = [], 0
    for e, amount in zip(ctx.events, ctx.amounts, strict=True):
        attributes = e.attributes
        lines = None if e.amount is None else attributes.get("lines")
        if not lines:
            continue
        lines_cents = _lines_cents(lines)
        if lines_cents is None:
            continue
        checked += 1
        total = abs(amount)
        expected = lines_cents + attributes.get("tax_cents", 0) - attributes.get("discount_cents", 0)
        if total != expected:
            ref = e.attributes.get("ticket_id") or e.event_id
            problems.append(f"{e.event_type} {ref} (month {e.month}): {len(lines)} lines sum to {_eur(expected)}, "
                            f"amount is {e.amount} (off by {_eur(total - expected)})")  # fmt: skip
    if not checked:
        return CheckResult(name="header_totals", passed=True, severity="error",
                           details="not applicable: no event carries priced lines")  # fmt: skip
    return result("header_totals", problems, checked, ok=f"{checked} headers = sum of their lines")


def _employed(employee: Any, day: date) -> bool:
    """On the books at the opening of `day`, before that day's hires and departures."""
    hired = date.fromisoformat(employee.hired_on)
    left = date.fromisoformat(employee.left_on) if employee.left_on else None
    return hired < day and (left is None or left >= day)


def entities_active(ctx: Ctx) -> CheckResult:
    """Hires and departures on master data's dates, payroll only for people employed in that month,
    no customer event before the customer signed up."""
    staff = {e.id: e for e in ctx.master.employees}
    signed_up = {c.id: c.signed_up_on for c in ctx.master.customers if getattr(c, "signed_up_on", None)}
    problems = []
    for kind, field in (("hire", "hired_on"), ("departure", "left_on")):
        for e in ctx.by_type[kind]:
            emp = staff.get(e.employee_id or "")
            when = getattr(emp, field, None) if emp else None
            if emp is not None and str(ctx.day(e)) != when:
                problems.append(f"{kind} of {emp.id} on {ctx.day(e)}, master data says {field} {when}")
    for e in ctx.by_type["payroll"]:
        emp = staff.get(e.employee_id or "")
        if emp is None:
            continue
        first, end = ctx.bounds(e.month)
        hired = date.fromisoformat(emp.hired_on)  # type: ignore[attr-defined]
        left = emp.left_on  # type: ignore[attr-defined]
        if hired >= end or (left and date.fromisoformat(left) <= first):
            problems.append(f"month {e.month}: payroll of {e.amount} to {emp.id}, employed {hired} to "
                            f"{left or 'now'}, not in {first}..{end}")  # fmt: skip
    early: Counter[str] = Counter()
    for e, day in zip(ctx.events, ctx.days, strict=True):
        since = signed_up.get(e.customer_id or "")
        if since and str(day) < since:
            early[e.customer_id or ""] += 1
            if early[e.customer_id or ""] == 1:
                problems.append(f"{e.event_type} of {e.customer_id} on {day}, before they signed up {since}")
    return result("entities_active", problems,
                  ok="hires and departures on their dates, payroll to employed staff, no event before sign-up")  # fmt: skip


def headcount(ctx: Ctx) -> list[dict[str, int]]:
    """Per month: headcount at the opening (from master data), hires and departures (from events)."""
    moved: dict[tuple[int, str], int] = defaultdict(int)
    for kind in ("hire", "departure"):
        for e in ctx.by_type[kind]:
            moved[(e.month, kind)] += 1
    out = []
    for m in range(1, ctx.spec.months + 1):
        first, end = ctx.bounds(m)
        out.append({"month": m, "start": sum(_employed(e, first) for e in ctx.master.employees),
                    "hires": moved[(m, "hire")], "departures": moved[(m, "departure")],
                    "next_start": sum(_employed(e, end) for e in ctx.master.employees)})  # fmt: skip
    return out


def headcount_roll_forward(ctx: Ctx, months: list[dict[str, int]]) -> CheckResult:
    problems = []
    for k in months:
        end = k["start"] + k["hires"] - k["departures"]
        if end != k["next_start"]:
            problems.append(f"month {k['month']}: {k['start']} at the start + {k['hires']} hired - "
                            f"{k['departures']} left = {end}, but {k['next_start']} on the books next month "
                            f"({end - k['next_start']:+d})")  # fmt: skip
    return result("headcount_roll_forward", problems,
                  ok="headcount at the start + hires - departures = headcount at the next start")  # fmt: skip


def cash(ctx: Ctx) -> list[dict[str, Any]]:
    """Per month: the books' cash flows (from the events) rolled forward from the opening cash, and the
    bank's (from the month's bank statements) rolled forward beside them."""
    opening = int(ctx.plans[0].get("opening_cash_cents", 0)) if ctx.plans else 0
    statements: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e in ctx.by_type["bank_statement"]:
        statements[e.month].append(e.attributes)
    out, bank = [], opening
    for m in range(1, ctx.spec.months + 1):
        flows = ctx.flows[m].values()
        inflows, outflows = sum(row[0] for row in flows), -sum(row[1] for row in flows)
        stated = statements[m][0] if len(statements[m]) == 1 else {}
        bank_in, bank_out = stated.get("inflows_cents"), stated.get("outflows_cents")
        bank_open = bank
        if isinstance(bank_in, int) and isinstance(bank_out, int):
            bank = bank + bank_in - bank_out
        out.append({"month": m, "opening": opening, "inflows": inflows, "outflows": outflows,
                    "closing": opening + inflows - outflows, "bank_opening": bank_open, "bank_closing": bank,
                    "statements": statements[m]})  # fmt: skip
        opening += inflows - outflows
    return out


def cash_roll_forward(ctx: Ctx, months: list[dict[str, Any]]) -> CheckResult:
    """Each month's one bank statement agrees with the month's events; rolled forward from the opening
    cash, the bank's closing balance equals the books' every month."""
    problems = []
    if not ctx.plans or not isinstance(ctx.plans[0].get("opening_cash_cents"), int):
        problems.append("the plan of month 1 records no opening cash (opening_cash_cents)")
    gap = 0  # the bank's closing minus the books', reported each time it changes
    for k in months:
        m = k["month"]
        if k["bank_closing"] - k["closing"] != gap:
            gap = k["bank_closing"] - k["closing"]
            problems.append(f"month {m}: opening {_eur(k['opening'])} + inflows {_eur(k['inflows'])} - outflows "
                            f"{_eur(k['outflows'])} = {_eur(k['closing'])}, the bank closes at "
                            f"{_eur(k['bank_closing'])} ({_eur(gap)} apart)")  # fmt: skip
        if len(k["statements"]) != 1:
            problems.append(f"month {m} has {len(k['statements'])} bank statements, expected 1")
            continue
        s = k["statements"][0]
        for side in ("inflows", "outflows"):
            stated = s.get(f"{side}_cents")
            if not isinstance(stated, int):
                problems.append(f"month {m}: bank statement has no {side}_cents")
            elif stated != k[side]:
                problems.append(f"month {m}: bank statement {side} {_eur(stated)}, the month's events sum to "
                                f"{_eur(k[side])} (off by {_eur(stated - k[side])})")  # fmt: skip
        if s.get("net_cents") != s.get("inflows_cents", 0) - s.get("outflows_cents", 0):
            problems.append(f"month {m}: bank statement net {s.get('net_cents')} != inflows - outflows")
    return result("cash_roll_forward", problems,
                  ok="every month: opening + inflows - outflows = closing, and the bank statement agrees")  # fmt: skip


def kpis(
    ctx: Ctx, cash_months: list[dict[str, Any]], staff_months: list[dict[str, int]]
) -> list[dict[str, Any]]:
    """Cash and headcount columns for each month's KPIs."""
    return [{"opening_cash": c["opening"] / 100, "cash_in": c["inflows"] / 100, "cash_out": c["outflows"] / 100,
             "closing_cash": c["closing"] / 100, "headcount_start": h["start"], "hires": h["hires"],
             "departures": h["departures"], "headcount_end": h["start"] + h["hires"] - h["departures"]}
            for c, h in zip(cash_months, staff_months, strict=True)]  # fmt: skip
