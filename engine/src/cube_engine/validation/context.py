"""What every check reads: the scenario, indexed once."""

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cube_contracts import BusinessEvent, CheckResult, MasterData, ScenarioSpec
from cube_engine.sim.streams import month_bounds

MAX_EXAMPLES = 5


@functools.lru_cache(maxsize=1 << 16)
def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def cents(amount: Decimal | None) -> int:
    """Integer cents (amounts repeat: prices, salaries, so they are remembered)."""
    return 0 if amount is None else _cents(amount)


@dataclass
class Ctx:
    spec: ScenarioSpec
    master: MasterData
    plans: list[dict[str, Any]]
    events: list[BusinessEvent]
    by_type: dict[str, list[BusinessEvent]] = field(default_factory=lambda: defaultdict(list))
    by_month: dict[int, list[BusinessEvent]] = field(default_factory=lambda: defaultdict(list))
    _bounds: dict[int, tuple[date, date]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for e in self.events:
            self.by_type[e.event_type].append(e)
            self.by_month[e.month].append(e)

    def bounds(self, month: int) -> tuple[date, date]:
        found = self._bounds.get(month)
        if found is None:
            found = self._bounds[month] = month_bounds(self.spec.start, month)
        return found

    def day(self, e: BusinessEvent) -> date:
        occurred = e.occurred_at
        if not isinstance(occurred, datetime):
            occurred = datetime.fromisoformat(str(occurred))
        return occurred.date()


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
