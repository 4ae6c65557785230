"""The `simulated` engine: offline, deterministic, calibrated (DESIGN.md, "Engines")."""

import asyncio
import functools
import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any
from uuid import UUID

import orjson

from cube_contracts import BusinessEvent, BusinessType, MasterData, ScenarioSpec
from cube_engine.base import LATENCY_PROFILES, Keep, Later
from cube_engine.sim import bakery, common, hotel, saas

MODULES: dict[BusinessType, ModuleType] = {
    BusinessType.BAKERY: bakery,
    BusinessType.HOTEL: hotel,
    BusinessType.TECH_STARTUP: saas,
}


def validate_params(spec: ScenarioSpec) -> None:
    """Raise ValueError naming the parameter when `spec.params` has an unknown or out-of-bounds value."""
    common.resolve_params(spec, MODULES[spec.business_type].PARAMS)


class SimulatedEngine:
    """Numbers from a model of the business; the same spec gives the same bytes."""

    name = "simulated"

    def __init__(self, latency: str = "0") -> None:
        if latency not in LATENCY_PROFILES:
            raise ValueError(f"CUBE_SIM_LATENCY must be one of {sorted(LATENCY_PROFILES)}, got {latency!r}")
        self.latency = LATENCY_PROFILES[latency]
        # One thread, first come first served: the event loop stays free for I/O, and of several
        # months the first is done first (threads sharing the GIL would finish them all late).
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="simulation")

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, functools.partial(fn, *args))

    async def master_data(self, scenario_id: UUID, spec: ScenarioSpec) -> MasterData:
        await asyncio.sleep(self.latency[0])
        master: MasterData = await self._run(MODULES[spec.business_type].master, scenario_id, spec)
        return master

    async def plan_months(
        self, scenario_id: UUID, spec: ScenarioSpec, master: MasterData
    ) -> list[dict[str, Any]]:
        await asyncio.sleep(self.latency[1])
        plans: list[dict[str, Any]] = await self._run(MODULES[spec.business_type].plan, spec, master)
        return plans

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
        """`later` and `keep` are not used: a simulated plan is whole from the start, and the
        month is all numbers."""
        await asyncio.sleep(self.latency[2])
        events: list[BusinessEvent] = await self._run(render_month, scenario_id, spec, master, month, plan)
        return events


def render_month(
    scenario_id: UUID, spec: ScenarioSpec, master: MasterData, month: int, plan: dict[str, Any]
) -> list[BusinessEvent]:
    """One month's events from the plan alone (sync; what the engine runs in a thread)."""
    if not 1 <= month <= spec.months:
        raise ValueError(f"month {month} is outside the scenario's 1..{spec.months}")
    return MODULES[spec.business_type].render(scenario_id, spec, master, month, plan).build()


class ContentHash:
    """The content hash of events fed in parts (a month's numbers, then its text): the same
    digest as content_hash of all of them in the same order."""

    def __init__(self, events: Iterable[BusinessEvent] = ()) -> None:
        self._digest = hashlib.sha256()
        self.update(events)

    def update(self, events: Iterable[BusinessEvent]) -> None:
        digest = self._digest
        for e in events:
            row = [e.month, e.occurred_at.isoformat(), e.event_type, None if e.amount is None else str(e.amount),
                   e.currency, e.customer_id, e.product_id, e.room_id, e.room_type_id, e.plan_id, e.employee_id,
                   e.supplier_id, e.attributes]  # fmt: skip
            digest.update(orjson.dumps(row, option=orjson.OPT_SORT_KEYS, default=str))
            digest.update(b"\n")

    def copy(self) -> "ContentHash":
        other = ContentHash()
        other._digest = self._digest.copy()
        return other

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def content_hash(events: list[BusinessEvent]) -> str:
    """sha256 of the events without their ids, so equal specs give equal hashes."""
    return ContentHash(events).hexdigest()


def generate(
    spec: ScenarioSpec, scenario_id: UUID
) -> tuple[MasterData, list[dict[str, Any]], list[list[BusinessEvent]]]:
    """A whole scenario in one process, month after month (for reports and tests)."""
    module = MODULES[spec.business_type]
    master = module.master(scenario_id, spec)
    plans = module.plan(spec, master)
    months = [render_month(scenario_id, spec, master, m, plans[m - 1]) for m in range(1, spec.months + 1)]
    return master, plans, months
