"""The fake Messages API and engines pointed at it."""

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from cube_contracts.events import derived_id
from cube_contracts.model import BusinessEvent, Company, Entity, MasterData, ScenarioSpec
from cube_engine.claude import ClaudeEngine, NumbersEngine, RetryPolicy, make_claude_engine
from tests.fakes.anthropic_api import FakeAnthropic

# Fast retries: the tests check behaviour, not patience.
FAST = RetryPolicy(max_attempts=4, max_repairs=2, timeout=5.0, backoff_base=0.01, backoff_cap=0.05)


class TinySimulation:
    """A minimal numbers engine, for tests about calls rather than about the simulation."""

    name = "tiny"

    async def master_data(self, scenario_id: UUID, spec: ScenarioSpec) -> MasterData:
        company = Company(
            id="company",
            name="Company",
            business_type=spec.business_type,
            currency="EUR",
            founded=date(2019, 4, 1),
            location="Lyon, France",
        )
        return MasterData(
            company=company,
            products=[Entity(id=f"P{i}", name=f"Product {i}", price=Decimal("3.50") + i) for i in range(3)],
            employees=[Entity(id=f"E{i}", name=f"Employee {i}", role="baker") for i in range(2)],
            customers=[Entity(id=f"C{i}", name=f"Customer {i}") for i in range(4)],
        )

    async def plan_months(
        self, scenario_id: UUID, spec: ScenarioSpec, master: MasterData
    ) -> list[dict[str, Any]]:
        return [{"month": m, "sales": 3 + m % 3} for m in range(1, spec.months + 1)]

    async def render_month(
        self, scenario_id: UUID, spec: ScenarioSpec, master: MasterData, month: int, plan: dict[str, Any]
    ) -> list[BusinessEvent]:
        assert "story" not in plan, "the simulation must not see the engine's story"
        return [
            BusinessEvent(
                event_id=derived_id(scenario_id, "sale", month, i),
                scenario_id=scenario_id,
                month=month,
                occurred_at=datetime(2025, month, 1 + i, 10, tzinfo=UTC),
                event_type="sale",
                amount=Decimal("3.50") + i,
                currency="EUR",
                product_id=f"P{i % 3}",
                customer_id=f"C{i % 4}",
            )
            for i in range(plan["sales"])
        ]


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(seed=7) as server:
        yield server


EngineFactory = Callable[..., ClaudeEngine]


@pytest.fixture
def engine_for() -> EngineFactory:
    """`engine_for(fake, simulated=..., **make_claude_engine kwargs)`: an engine on the fake."""

    def build(server: FakeAnthropic, simulated: NumbersEngine | None = None, **kwargs: Any) -> ClaudeEngine:
        kwargs.setdefault("policy", FAST)
        return make_claude_engine(
            "test-key", server.base_url, simulated=simulated or TinySimulation(), **kwargs
        )

    return build


@pytest.fixture
def make_spec() -> Callable[..., ScenarioSpec]:
    """`make_spec("hotel", months=3)`: a claude-engine spec."""

    def build(business_type: str = "bakery", months: int = 12, **kwargs: Any) -> ScenarioSpec:
        kwargs.setdefault("seed", 42)
        return ScenarioSpec(business_type=business_type, engine="claude", months=months, **kwargs)

    return build
