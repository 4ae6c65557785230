"""The claude engine end to end against the fake: simulated numbers, LLM text, cache, usage, limits."""

import asyncio
import time
from typing import Any
from uuid import UUID, uuid4

import pytest

from cube_contracts.model import BusinessEvent, MasterData, ScenarioSpec
from cube_engine import SimulatedEngine, validate
from cube_engine.base import Replanned
from cube_engine.claude import TEXT_EVENT_TYPES, ClaudeEngine, cost_usd
from cube_engine.claude.merge import MASTER, PENDING, STORY_KEY
from cube_engine.validation import identity
from tests.fakes.anthropic_api import FakeAnthropic

Year = tuple[UUID, MasterData, list[dict[str, Any]], list[BusinessEvent]]


async def _year(engine: Any, spec: ScenarioSpec) -> Year:
    """What the planner and the month-workers do: master data, plan, then every month at once."""
    sid = uuid4()
    master = await engine.master_data(sid, spec)
    plans = await engine.plan_months(sid, spec, master)
    months = await asyncio.gather(
        *(engine.render_month(sid, spec, master, m, plans[m - 1]) for m in range(1, spec.months + 1))
    )
    return sid, master, plans, [e for month in months for e in month]


@pytest.mark.parametrize("business_type", ["bakery", "hotel", "tech_startup"])
async def test_a_year_of_each_business_is_valid_and_told(
    fake: FakeAnthropic, engine_for, make_spec, business_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The validator must know the engine's text events as events that move no money.
    for kind in TEXT_EVENT_TYPES:
        monkeypatch.setitem(identity.DIRECTION, kind, identity.DIRECTION.get(kind, 0))
    spec = make_spec(business_type)
    engine = engine_for(fake, simulated=SimulatedEngine(latency="0"))
    sid, master, plans, events = await _year(engine, spec)

    report = validate(spec, master, plans, events)
    assert report.passed, [c for c in report.checks if not c.passed]

    # Every number is the simulation's, run with the model's market parameters clamped to its bounds.
    params = plans[0][STORY_KEY]["params"]
    assert 0.5 <= params["price_level"] <= 2.0 and -0.5 <= params["growth"] <= 1.5
    sim_spec = spec.model_copy(update={"params": params})
    sim = SimulatedEngine(latency="0")
    sim_master = await sim.master_data(sid, sim_spec)
    sim_plans = await sim.plan_months(sid, sim_spec, sim_master)
    assert [{k: v for k, v in p.items() if k != STORY_KEY} for p in plans] == sim_plans
    told = set(TEXT_EVENT_TYPES)
    for month in (1, spec.months):
        expected = await sim.render_month(sid, spec, sim_master, month, sim_plans[month - 1])
        got = [e for e in events if e.month == month and e.event_type not in told]
        assert [(e.event_id, e.amount, e.event_type) for e in got] == [
            (e.event_id, e.amount, e.event_type) for e in expected
        ]
    assert all(e.amount is None for e in events if e.event_type in told)

    # The text is the model's: company story, names by id, a narrative per month.
    assert master.company.description and master.company.name != sim_master.company.name
    catalogue = master.products or master.room_types or master.plans
    assert any(not e.name.startswith(("Product", "Room", "Plan")) for e in catalogue)
    assert [e.id for e in catalogue] == [
        e.id for e in (sim_master.products or sim_master.room_types or sim_master.plans)
    ]
    narratives = [e for e in events if e.event_type == "narrative"]
    assert sorted(e.month for e in narratives) == list(range(1, spec.months + 1))
    assert all(e.attributes["narrative"] and e.attributes["headline"] for e in narratives)


async def test_month_calls_read_the_prompt_cache_the_year_call_wrote(
    fake: FakeAnthropic, engine_for, make_spec
) -> None:
    spec = make_spec(months=6)
    engine = engine_for(fake)
    await _year(engine, spec)
    by_kind: dict[str, list[dict[str, int]]] = {}
    for answer in fake.stats.answers:
        by_kind.setdefault(answer["kind"], []).append(answer["usage"])
    (year,) = by_kind["write_year"]
    assert year["cache_creation_input_tokens"] > 0
    months = by_kind["write_month"]
    assert len(months) == 6
    assert all(u["cache_read_input_tokens"] >= year["cache_creation_input_tokens"] for u in months)
    assert all(u["cache_creation_input_tokens"] == 0 for u in months)


async def test_tokens_and_cost_are_accounted_per_step(fake: FakeAnthropic, engine_for, make_spec) -> None:
    spec = make_spec(months=3)
    engine: ClaudeEngine = engine_for(fake, model="claude-haiku-4-5")
    sid, *_ = await _year(engine, spec)
    answers = {a["kind"]: a["usage"] for a in fake.stats.answers}
    master = engine.usage(sid, "master_data")
    assert master.calls == 1
    assert master.input_tokens + master.cache_creation_input_tokens == sum(
        answers["write_company"][k] for k in ("input_tokens", "cache_creation_input_tokens")
    )
    assert master.output_tokens == answers["write_company"]["output_tokens"]
    assert master.cost_usd == cost_usd("claude-haiku-4-5", master) > 0
    trends = engine.usage(sid, "trends")
    months = [engine.usage(sid, f"month:{m}") for m in (1, 2, 3)]
    assert trends.calls == 1 and trends.cache_creation_input_tokens > 0
    assert all(m.calls == 1 and m.cache_read_input_tokens > 0 and m.cost_usd > 0 for m in months)
    # Cache reads cost a tenth of fresh input: a month is cheaper than it would be uncached.
    m = months[0]
    uncached = m.model_copy(
        update={"input_tokens": m.input_tokens + m.cache_read_input_tokens, "cache_read_input_tokens": 0}
    )
    assert cost_usd("claude-haiku-4-5", m) < cost_usd("claude-haiku-4-5", uncached)
    assert engine.usage(sid, "month:1").calls == 0  # popped: reported once
    total = sum((u for u in [master, trends, *months]), start=type(master)())
    assert total.calls == 5 and total.cost_usd == pytest.approx(
        master.cost_usd + trends.cost_usd + sum(x.cost_usd for x in months), abs=1e-6
    )


async def test_the_concurrency_limit_holds_under_twenty_scenarios(engine_for, make_spec) -> None:
    with FakeAnthropic(latency={"write_month": 0.02, "*": 0.005}) as fake:
        engine = engine_for(fake, concurrency=6)
        specs = [make_spec(("bakery", "hotel", "tech_startup")[i % 3], seed=i) for i in range(20)]
        started = time.monotonic()
        results = await asyncio.gather(*(_year(engine, s) for s in specs))
        elapsed = time.monotonic() - started
    assert len(results) == 20 and all(len(r[3]) > 0 for r in results)
    assert fake.stats.by_kind["write_month"] == 240
    assert fake.stats.max_in_flight == 6
    assert elapsed < 20


async def test_months_render_on_early_plans_and_take_the_story_when_it_is_written(
    fake: FakeAnthropic, engine_for, make_spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    for kind in TEXT_EVENT_TYPES:
        monkeypatch.setitem(identity.DIRECTION, kind, identity.DIRECTION.get(kind, 0))
    spec = make_spec("hotel", months=3)
    engine: ClaudeEngine = engine_for(fake, simulated=SimulatedEngine(latency="0"))
    sid = uuid4()
    master = await engine.master_data(sid, spec)
    early, full = await engine.plan_early(sid, spec, master)
    assert all(p[STORY_KEY][PENDING] and p[STORY_KEY][MASTER] for p in early)
    asked: list[int] = []

    def later_for(month: int) -> Any:
        async def later() -> dict[str, Any]:
            asked.append(month)
            return (await full)[month - 1]

        return later

    months = await asyncio.gather(
        *(engine.render_month(sid, spec, master, m, early[m - 1], later_for(m)) for m in (1, 2, 3))
    )
    plans = await full
    assert sorted(asked) == [1, 2, 3] and not any(p[STORY_KEY].get(PENDING) for p in plans)
    events = [e for month in months for e in month]
    assert validate(spec, master, plans, events).passed
    told = set(TEXT_EVENT_TYPES)
    for m in (1, 3):  # the same numbers as a month rendered from its full plan
        direct = await engine.render_month(sid, spec, master, m, plans[m - 1])
        assert [(e.event_id, e.amount) for e in direct if e.event_type not in told] == [
            (e.event_id, e.amount) for e in months[m - 1] if e.event_type not in told
        ]
        assert any(e.event_type == "narrative" for e in months[m - 1])

    with pytest.raises(RuntimeError, match="before its story"):
        await engine.render_month(sid, spec, master, 1, early[0])

    async def replanned() -> dict[str, Any]:
        plan = plans[0]
        return {**plan, STORY_KEY: {**plan[STORY_KEY], MASTER: "planned-again"}}

    with pytest.raises(Replanned):
        await engine.render_month(sid, spec, master, 1, early[0], replanned)
    other = master.model_copy(update={"customers": master.customers[1:]})
    with pytest.raises(Replanned):
        await engine.render_month(sid, spec, other, 1, plans[0])


async def _two_months_planned(
    fake: FakeAnthropic, engine_for: Any, make_spec: Any
) -> tuple[ClaudeEngine, ScenarioSpec, UUID, MasterData, list[dict[str, Any]], list[dict[str, Any]]]:
    """A two-month tech startup planned by the claude engine: its early plans and its full ones."""
    spec = make_spec("tech_startup", months=2)
    engine: ClaudeEngine = engine_for(fake, simulated=SimulatedEngine(latency="0"))
    sid = uuid4()
    master = await engine.master_data(sid, spec)
    early, full = await engine.plan_early(sid, spec, master)
    return engine, spec, sid, master, early, await full


async def test_the_numbers_are_kept_before_the_text_is_written(
    fake: FakeAnthropic, engine_for, make_spec
) -> None:
    engine, spec, sid, master, _, plans = await _two_months_planned(fake, engine_for, make_spec)
    kept: list[list[BusinessEvent]] = []
    calls_when_kept: list[int] = []

    async def keep(ledger: list[BusinessEvent]) -> None:
        calls_when_kept.append(fake.stats.by_kind.get("write_month", 0))
        kept.append(ledger)

    events = await engine.render_month(sid, spec, master, 2, plans[1], keep=keep)
    (ledger,) = kept
    assert calls_when_kept == [0]  # before the month's call was answered
    assert events[: len(ledger)] == ledger and len(events) > len(ledger)
    assert {e.event_type for e in events[len(ledger) :]} <= set(TEXT_EVENT_TYPES)
    assert not any(e.event_type in TEXT_EVENT_TYPES for e in ledger)


async def test_no_numbers_are_kept_while_a_call_of_the_process_is_still_to_be_sent(
    fake: FakeAnthropic, engine_for, make_spec
) -> None:
    # Storing a month's numbers ahead is work that can wait: it waits for every month of the
    # process to have sent its call, and a month answered before then stores nothing ahead.
    engine, spec, sid, master, early, plans = await _two_months_planned(fake, engine_for, make_spec)
    release = asyncio.Event()
    kept: list[int] = []

    def keep_for(month: int) -> Any:
        async def keep(ledger: list[BusinessEvent]) -> None:
            kept.append(month)

        return keep

    async def story_now() -> dict[str, Any]:
        return plans[0]

    async def story_later() -> dict[str, Any]:
        await release.wait()
        return plans[1]

    first = asyncio.create_task(engine.render_month(sid, spec, master, 1, early[0], story_now, keep_for(1)))
    second = asyncio.create_task(
        engine.render_month(sid, spec, master, 2, early[1], story_later, keep_for(2))
    )
    events = await first  # answered while month 2 still waits for its story
    assert kept == []
    assert any(e.event_type == "narrative" for e in events)
    release.set()
    events = await second
    assert kept == [2]  # alone, month 2 kept its numbers once its call was out
    assert any(e.event_type == "narrative" for e in events)
