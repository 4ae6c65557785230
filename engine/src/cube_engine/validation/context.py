"""What every check reads: the scenario, indexed once."""

import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, TypeVar

from cube_contracts import BusinessEvent, CheckResult, MasterData, ScenarioSpec
from cube_engine.sim.streams import month_bounds

MAX_EXAMPLES = 5
T = TypeVar("T")


@functools.lru_cache(maxsize=1 << 16)
def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def cents(amount: Decimal | None) -> int:
    """Integer cents (amounts repeat: prices, salaries, so they are remembered)."""
    return 0 if amount is None else _cents(amount)


def _day(occurred: datetime | str) -> date:
    """The day of a time (a datetime, or its ISO text)."""
    return (occurred if isinstance(occurred, datetime) else datetime.fromisoformat(str(occurred))).date()


@dataclass
class Ctx:
    """The scenario with its events grouped by type and by month, and each event's day and amount in
    cents worked out once (`days` and `amounts` run beside `events`)."""

    spec: ScenarioSpec
    master: MasterData
    plans: list[dict[str, Any]]
    events: list[BusinessEvent]
    by_type: dict[str, list[BusinessEvent]] = field(default_factory=lambda: defaultdict(list))
    by_month: dict[int, list[BusinessEvent]] = field(default_factory=lambda: defaultdict(list))
    days: list[date] = field(init=False, default_factory=list)
    amounts: list[int] = field(init=False, default_factory=list)
    _bounds: dict[int, tuple[date, date]] = field(default_factory=dict)
    _days_of: dict[str, list[date]] = field(init=False, default_factory=dict)
    _once: dict[Callable[["Ctx"], Any], Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for e in self.events:
            self.by_type[e.event_type].append(e)
            self.by_month[e.month].append(e)
        self.days = list(map(_day, map(attrgetter("occurred_at"), self.events)))
        self.amounts = list(map(cents, map(attrgetter("amount"), self.events)))

    def bounds(self, month: int) -> tuple[date, date]:
        found = self._bounds.get(month)
        if found is None:
            found = self._bounds[month] = month_bounds(self.spec.start, month)
        return found

    def day(self, e: BusinessEvent) -> date:
        """The day `e` occurred on."""
        return _day(e.occurred_at)

    def days_of(self, event_type: str) -> list[date]:
        """The days of the events of a type, beside `by_type[event_type]`."""
        found = self._days_of.get(event_type)
        if found is None:
            pairs = zip(self.events, self.days, strict=True)
            found = self._days_of[event_type] = [day for e, day in pairs if e.event_type == event_type]
        return found

    def once(self, gather: Callable[["Ctx"], T]) -> T:
        """`gather(self)`, worked out on the first call only: what several checks read, gathered in
        one walk over the events."""
        if gather not in self._once:
            self._once[gather] = gather(self)
        return self._once[gather]  # type: ignore[no-any-return]

    @functools.cached_property
    def flows(self) -> dict[int, dict[str, list[int]]]:
        """Per month and event type: money in, money out (negative, in cents) and the number of events."""
        out: dict[int, dict[str, list[int]]] = defaultdict(dict)
        for e, amount in zip(self.events, self.amounts, strict=True):
            row = out[e.month].get(e.event_type)
            if row is None:
                row = out[e.month][e.event_type] = [0, 0, 0]
            row[0 if amount > 0 else 1] += amount
            row[2] += 1
        return out


def result(name: str, problems: list[str], total: int | None = None, severity: str = "error",
           ok: str = "") -> CheckResult:  # fmt: skip
    """A CheckResult listing the first problems and how many there were."""
    if not problems:
        return CheckResult(name=name, passed=True, severity=severity, details=ok)
    shown = "; ".join(problems[:MAX_EXAMPLES])
    more = f" (and {len(problems) - MAX_EXAMPLES} more)" if len(problems) > MAX_EXAMPLES else ""
    of = f" of {total}" if total is not None else ""
    return CheckResult(
        name=name, passed=False, severity=severity, details=f"{len(problems)}{of} wrong: {shown}{more}"
    )


def band(name: str, value: float | None, low: float, high: float, label: str, unit: str = "") -> CheckResult:
    """An industry band: outside it is a warning, not a failure."""
    if value is None:
        return CheckResult(name=name, passed=True, severity="warning", details=f"{label}: no data")
    inside = low <= value <= high
    text = f"{label} {value:.2f}{unit}, industry band {low:g}-{high:g}{unit}"
    return CheckResult(name=name, passed=inside, severity="warning", details=text)
