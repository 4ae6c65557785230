"""The engine interface the planner and the month-workers call."""

from typing import Any, Protocol
from uuid import UUID

from cube_contracts import BusinessEvent, MasterData, ScenarioSpec

# Seconds the simulated engine waits per step, standing in for LLM calls: the first version's
# 441.5 s run (master data ~66 s, trends ~17 s, each month ~30 s) scaled by 1/100.
LATENCY_PROFILES: dict[str, tuple[float, float, float]] = {
    "0": (0.0, 0.0, 0.0),
    "seed-scaled": (0.66, 0.17, 0.30),
}


class Engine(Protocol):
    """Makes a scenario: master data, the monthly plan, then each month's events from the plan alone."""

    name: str

    async def master_data(self, scenario_id: UUID, spec: ScenarioSpec) -> MasterData: ...

    async def plan_months(
        self, scenario_id: UUID, spec: ScenarioSpec, master: MasterData
    ) -> list[dict[str, Any]]: ...

    async def render_month(
        self, scenario_id: UUID, spec: ScenarioSpec, master: MasterData, month: int, plan: dict[str, Any]
    ) -> list[BusinessEvent]: ...
