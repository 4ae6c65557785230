"""The simulation: deterministic, month-parallel, consistent, and sized by `scale`."""

import asyncio
from itertools import pairwise
from uuid import UUID, uuid4, uuid5

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cube_engine
from cube_contracts import BusinessType, ScenarioSpec
from cube_engine import SimulatedEngine, content_hash, validate, validate_params
from cube_engine.simulated import ContentHash

TYPES = ["bakery", "hotel", "tech_startup"]


def generate(spec: ScenarioSpec, sid: UUID | None = None) -> tuple:  # type: ignore[type-arg]
    scenario = sid or uuid4()
    master, plans, months = cube_engine.generate(spec, scenario)
    return scenario, master, plans, months


@pytest.mark.parametrize("business_type", TYPES)
def test_same_spec_same_bytes_and_month_alone_equals_full_run(business_type: str) -> None:
    spec = ScenarioSpec(business_type=business_type, seed=42)  # type: ignore[arg-type]
    _, master, plans, months = generate(spec)
    _, _, _, again = generate(spec)
    assert [content_hash(m) for m in months] == [content_hash(m) for m in again]
    # Month 7 rendered by a fresh engine, alone, from the plan only.
    sid = uuid4()
    alone = asyncio.run(SimulatedEngine().render_month(sid, spec, master, 7, plans[6]))
    assert content_hash(alone) == content_hash(months[6])
    other = generate(ScenarioSpec(business_type=business_type, seed=43))[3]  # type: ignore[arg-type]
    assert content_hash(other[6]) != content_hash(months[6])


@pytest.mark.parametrize("business_type", TYPES)
@pytest.mark.parametrize("seed", [1, 7, 1234])
def test_every_identity_check_passes(business_type: str, seed: int) -> None:
    spec = ScenarioSpec(business_type=business_type, seed=seed)  # type: ignore[arg-type]
    _, master, plans, months = generate(spec)
    events = [e for m in months for e in m]
    report = validate(spec, master, plans, events)
    failed = [c for c in report.checks if not c.passed and c.severity == "error"]
    assert report.passed and failed == [], failed
    assert len(events) > 1000
    assert len(report.kpis["monthly"]) == 12


@pytest.mark.parametrize("business_type", TYPES)
def test_each_month_closes_with_its_bank_statement_and_the_cash_rolls_forward(business_type: str) -> None:
    spec = ScenarioSpec(business_type=business_type, seed=11, months=4)  # type: ignore[arg-type]
    _, master, plans, months = generate(spec)
    for month in months:
        # last, so the events before it keep the ids they had without it
        assert [e.event_type for e in month].count("bank_statement") == 1
        assert month[-1].event_type == "bank_statement" and month[-1].amount is None
        money = [int(e.amount * 100) for e in month if e.amount is not None]
        assert month[-1].attributes["inflows_cents"] == sum(a for a in money if a > 0)
        assert month[-1].attributes["outflows_cents"] == -sum(a for a in money if a < 0)
    kpis = validate(spec, master, plans, [e for m in months for e in m]).kpis["monthly"]
    assert kpis[0]["opening_cash"] == plans[0]["opening_cash_cents"] / 100 > 0
    for before, after in pairwise(kpis):
        assert after["opening_cash"] == before["closing_cash"]
        assert after["headcount_start"] == before["headcount_end"]


@pytest.mark.parametrize("business_type", TYPES)
def test_events_grow_linearly_with_scale(business_type: str) -> None:
    small = sum(len(m) for m in generate(ScenarioSpec(business_type=business_type, seed=3, months=3))[3])  # type: ignore[arg-type]
    big = sum(
        len(m) for m in generate(ScenarioSpec(business_type=business_type, seed=3, months=3, scale=4))[3]
    )  # type: ignore[arg-type]
    assert 3.0 < big / small < 5.0


def test_params_are_checked_with_readable_errors() -> None:
    validate_params(ScenarioSpec(business_type="hotel", seed=1, params={"rooms": 50, "currency": "USD"}))  # type: ignore[arg-type]
    for params, needle in [({"rooms": 1}, "rooms"), ({"colour": 1}, "unknown"), ({"currency": "XYZ"}, "currency"),
                           ({"growth": "fast"}, "growth")]:  # fmt: skip
        with pytest.raises(ValueError, match=needle):
            validate_params(ScenarioSpec(business_type="hotel", seed=1, params=params))  # type: ignore[arg-type]


def test_latency_profile_is_validated() -> None:
    with pytest.raises(ValueError, match="CUBE_SIM_LATENCY"):
        SimulatedEngine(latency="slow")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    business_type=st.sampled_from(TYPES),
    seed=st.integers(min_value=0, max_value=2**63 - 1),
    growth=st.floats(min_value=-0.5, max_value=1.5),
    price_level=st.floats(min_value=0.5, max_value=2.0),
    currency=st.sampled_from(["EUR", "USD", "GBP"]),
    scale=st.floats(min_value=0.1, max_value=2.0),
    start_month=st.sampled_from(["2024-02", "2025-01", "2025-07", "2026-12"]),
)
def test_any_seed_and_parameters_in_bounds_pass_every_identity_check(
    business_type: str,
    seed: int,
    growth: float,
    price_level: float,
    currency: str,
    scale: float,
    start_month: str,
) -> None:
    spec = ScenarioSpec(
        business_type=business_type, seed=seed, months=3, scale=scale, start_month=start_month,  # type: ignore[arg-type]
        params={"growth": growth, "price_level": price_level, "currency": currency},
    )  # fmt: skip
    _, master, plans, months = generate(spec)
    report = validate(spec, master, plans, [e for m in months for e in m])
    assert report.passed, [c for c in report.checks if not c.passed and c.severity == "error"]


def test_a_content_hash_fed_in_parts_is_the_hash_of_the_whole() -> None:
    spec = ScenarioSpec(business_type=BusinessType.HOTEL, seed=2, months=1)
    _, _, (month,) = cube_engine.generate(spec, uuid4())
    first = ContentHash(month[:100])
    whole = first.copy()
    whole.update(month[100:])
    assert whole.hexdigest() == content_hash(month)
    assert first.hexdigest() == content_hash(month[:100]) != whole.hexdigest()  # the copy left it alone


@pytest.mark.parametrize("business_type", TYPES)
def test_event_ids_are_uuid5_of_the_scenario_and_their_place_in_the_month(business_type: str) -> None:
    sid, _, _, months = generate(ScenarioSpec(business_type=business_type, seed=3, months=2))  # type: ignore[arg-type]
    for month, events in enumerate(months, start=1):
        ids = [e.event_id for e in events]
        assert ids == [uuid5(sid, f"{month}:{seq}") for seq in range(len(events))]
        assert {i.version for i in ids} == {5} and len({str(i) for i in ids}) == len(ids)
