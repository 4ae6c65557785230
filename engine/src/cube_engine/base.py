"""The engine interface the planner and the month-workers call."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from cube_contracts import BusinessEvent, MasterData, ScenarioSpec

# Seconds the simulated engine waits per step, standing in for LLM calls: the first version's
# 441.5 s run (master data ~66 s, trends ~17 s, each month ~30 s) scaled by 1/100.
LATENCY_PROFILES: dict[str, tuple[float, float, float]] = {
    "0": (0.0, 0.0, 0.0),
    "seed-scaled": (0.66, 0.17, 0.30),
}


# The month's full plan, for a month requested before its story was written (see PlansEarly).
Later = Callable[[], Awaitable[dict[str, Any]]]


# Called with a month's ledger (the first events of the month, in order) before its text is
# written, so that they can be stored meanwhile.
Keep = Callable[[list[BusinessEvent]], Awaitable[None]]


class Replanned(Exception):
    """The scenario was planned again (new master data) after this month was requested: the
    request is stale, and the new planning requests the month again."""


class Engine(Protocol):
    """Makes a scenario: master data, the monthly plan, then each month's events from the plan alone."""

    name: str

    async def master_data(self, scenario_id: UUID, spec: ScenarioSpec) -> MasterData: ...

    async def plan_months(
        self, scenario_id: UUID, spec: ScenarioSpec, master: MasterData
    ) -> list[dict[str, Any]]: ...

    async def render_month(
        self,
        scenario_id: UUID,
        spec: ScenarioSpec,
        master: MasterData,
        month: int,
        plan: dict[str, Any],
        later: Later | None = None,
        keep: Keep | None = None,
    ) -> list[BusinessEvent]:
        """`later` gives the full plan when `plan` is an early one whose story is still being written.
        An engine that writes text around the numbers calls `keep` with the numbers first; the
        events it returns then start with exactly those."""
        ...


@runtime_checkable
class PlansEarly(Protocol):
    """An engine whose month numbers are known before the rest of the plan (the claude engine's
    numbers come from the simulation, its story from a slower LLM call): the planner requests the
    months with the early plans, and the month-workers get the story when it is stored."""

    async def plan_early(
        self, scenario_id: UUID, spec: ScenarioSpec, master: MasterData
    ) -> tuple[list[dict[str, Any]], "asyncio.Future[list[dict[str, Any]]]"]:
        """The early plans at once, and the full plans when they are written (cancel the future
        to stop writing them)."""
        ...
