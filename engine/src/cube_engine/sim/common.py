"""What every business shares: parameters with bounds, staff and payroll, fixed costs."""

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cube_contracts import Entity, ScenarioSpec
from cube_engine.sim.builder import MonthBuilder
from cube_engine.sim.streams import at, days, person, stream

CURRENCIES = {"EUR": ("Paris, France", "fr"), "USD": ("Austin, United States", "com"),
              "GBP": ("Bristol, United Kingdom", "co.uk")}  # fmt: skip


FULL_TIME_HOURS = 35  # hours a week of a full-time contract; salaries are quoted for it


@dataclass(frozen=True)
class Param:
    """A user-settable parameter and its bounds."""

    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()


COMMON_PARAMS = {
    "growth": Param(0.08, -0.5, 1.5),  # yearly growth of demand
    "price_level": Param(1.0, 0.5, 2.0),  # multiplies every catalogue price
    "currency": Param("EUR", choices=tuple(CURRENCIES)),
}


def resolve_params(spec: ScenarioSpec, extra: dict[str, Param]) -> dict[str, Any]:
    """The spec's params with defaults filled in; unknown or out-of-bounds ones raise ValueError."""
    allowed = {**COMMON_PARAMS, **extra}
    unknown = sorted(set(spec.params) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for {spec.business_type.value}; known: {sorted(allowed)}"
        )
    out: dict[str, Any] = {}
    for name, p in allowed.items():
        value = spec.params.get(name, p.default)
        if p.choices:
            if value not in p.choices:
                raise ValueError(f"{name} must be one of {list(p.choices)}, got {value!r}")
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if (p.low is not None and value < p.low) or (p.high is not None and value > p.high):
                raise ValueError(f"{name} must be between {p.low} and {p.high}, got {value}")
        out[name] = value
    return out


def employees(
    rng: random.Random,
    roles: list[tuple[str, int, int, int]] | list[tuple[str, int, int, int, int]],
    start: date,
    end: date,
    domain: str,
    keep_posts_filled: bool = False,
) -> list[Entity]:
    """Staff: (role, count, monthly salary low, high in cents for a full-time week[, hours per
    week]); a part-timer's salary is the full-time one prorated to their hours (35 a week is full
    time). Some join or leave during the window. With `keep_posts_filled` every post is staffed the
    whole window: a leaver's successor is hired the day they leave, and someone who joins during the
    window takes over from a predecessor who leaves that day."""
    staff: list[Entity] = []
    window = (end - start).days

    def add(
        role: str, hours: int, low: int, high: int, who: tuple[str, str], hired: date, left: date | None
    ) -> None:
        staff.append(
            Entity(
                id=f"E{len(staff) + 1:04d}", name=who[0], email=who[1], role=role, hours_per_week=hours,
                monthly_salary_cents=round(rng.randrange(low, high, 500) * hours / FULL_TIME_HOURS),
                hired_on=hired.isoformat(), left_on=left.isoformat() if left else None,
            )
        )  # fmt: skip

    for role, count, low, high, *more in roles:
        hours = more[0] if more else FULL_TIME_HOURS
        for _ in range(count):
            who = person(rng, domain)
            hired = start - timedelta(days=rng.randint(30, 2000))
            left = None
            roll = rng.random()
            if roll < 0.12:
                hired = start + timedelta(days=rng.randint(10, max(11, window - 30)))
            elif roll < 0.20:
                left = start + timedelta(days=rng.randint(30, max(31, window - 1)))
            add(role, hours, low, high, who, hired, left)
            if keep_posts_filled and left is not None and left < end:
                add(role, hours, low, high, person(rng, domain), left, None)
            elif keep_posts_filled and hired > start:
                before = start - timedelta(days=rng.randint(30, 2000))
                add(role, hours, low, high, person(rng, domain), before, hired)
    return staff


def payroll_cents(employee: Entity, first: date, end: date) -> int:
    """Salary for the days of [first, end) the employee was employed, prorated by calendar days."""
    hired = date.fromisoformat(employee.hired_on)  # type: ignore[attr-defined]
    left = date.fromisoformat(employee.left_on) if employee.left_on else None  # type: ignore[attr-defined]
    active_from = max(first, hired)
    active_to = min(end, left) if left else end
    active = (active_to - active_from).days
    if active <= 0:
        return 0
    total = (end - first).days
    return round(employee.monthly_salary_cents * active / total)  # type: ignore[attr-defined]


def render_staff_and_fixed_costs(
    b: MonthBuilder, staff: list[Entity], first: date, end: date, fixed: list[tuple[str, int, int]]
) -> None:
    """Hires on their day, payroll on the last day of the month, fixed costs (label, day, cents)."""
    last = days(first, end)[-1]
    for e in staff:
        hired = date.fromisoformat(e.hired_on)  # type: ignore[attr-defined]
        if first <= hired < end:
            b.add(at(hired, 9), "hire", None, {"role": e.role}, employee_id=e.id)  # type: ignore[attr-defined]
        if e.left_on and first <= date.fromisoformat(e.left_on) < end:  # type: ignore[attr-defined]
            b.add(at(date.fromisoformat(e.left_on), 17), "departure", None, {}, employee_id=e.id)  # type: ignore[attr-defined]
        cents = payroll_cents(e, first, end)
        if cents:
            b.add(at(last, 18), "payroll", -cents, {"role": e.role}, employee_id=e.id)  # type: ignore[attr-defined]
    for label, day, cents in fixed:
        b.add(at(first.replace(day=day), 10), "expense", -cents, {"category": label})


def opening_cash_cents(spec: ScenarioSpec, business: str, base_cents: int) -> int:
    """Cash at the bank when the window opens, decided by the planner (its own stream)."""
    rng = stream(spec.seed, 0, f"{business}-cash")
    return round(base_cents * max(0.1, spec.scale) ** 0.7 * rng.uniform(0.7, 1.3) / 10000) * 10000


def render_bank_statement(b: MonthBuilder, first: date, end: date) -> None:
    """The month's bank statement, last event of the month: what came in and went out, from the
    month's own events, so the validator can roll the cash balance forward month after month."""
    inflows, outflows, count = b.flows()
    b.add(at(days(first, end)[-1], 24), "bank_statement", None,
          {"period": first.strftime("%Y-%m"), "inflows_cents": inflows, "outflows_cents": outflows,
           "net_cents": inflows - outflows, "transactions": count})  # fmt: skip
