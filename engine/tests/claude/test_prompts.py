"""Prompts every process renders alike; tool schemas the fake (and a model) can satisfy."""

import json
import random
from typing import Any
from uuid import uuid4

import pytest

from cube_contracts.model import MasterData, ScenarioSpec
from cube_engine import SimulatedEngine
from cube_engine.claude.calls import company_call
from cube_engine.claude.engine import _canonical, fingerprint
from cube_engine.claude.merge import _renamed_email
from cube_engine.claude.prompts import scenario_context
from cube_engine.claude.schemas import MonthDraft, company_schema, story_tools, year_schema
from tests.fakes.schema_fill import fill


def _jsonb(value: Any) -> Any:
    """What PostgreSQL's jsonb hands back: object keys reordered (shorter first, then bytewise)."""
    if isinstance(value, dict):
        return {k: _jsonb(value[k]) for k in sorted(value, key=lambda k: (len(k), k))}
    if isinstance(value, list):
        return [_jsonb(v) for v in value]
    return value


@pytest.mark.parametrize("business_type", ["bakery", "hotel", "tech_startup"])
async def test_the_scenario_context_survives_storage_byte_for_byte(business_type: str) -> None:
    spec = ScenarioSpec(business_type=business_type, seed=3)
    master = await SimulatedEngine().master_data(uuid4(), spec)
    stored = MasterData.model_validate(_jsonb(json.loads(master.model_dump_json())))
    planner = scenario_context(spec, _canonical(master))
    worker = scenario_context(spec, _canonical(stored))
    assert planner == worker  # so every month call reads the prefix the year call cached
    assert "@" not in planner
    # and a month-worker knows the plan was made from the master data it read
    assert fingerprint(_canonical(master)) == fingerprint(_canonical(stored))
    assert fingerprint(_canonical(master)) != fingerprint(master.model_copy(update={"customers": []}))


@pytest.mark.parametrize("business_type", ["bakery", "hotel", "tech_startup"])
async def test_schema_filled_answers_validate(business_type: str) -> None:
    spec = ScenarioSpec(business_type=business_type, seed=5)
    master = await SimulatedEngine().master_data(uuid4(), spec)
    company = company_schema(master, 40)
    req = company_call(spec, master, 40)
    assert req.tools[0]["input_schema"] == company.model_json_schema()
    for seed in range(20):
        rng = random.Random(seed)
        draft: Any = company.model_validate(fill(company.model_json_schema(), rng))
        assert draft.company.name
        year_schema(12).model_validate(fill(year_schema(12).model_json_schema(), rng))
        MonthDraft.model_validate(fill(MonthDraft.model_json_schema(), rng))
    named = company.model_json_schema()["$defs"]
    assert any(set(d.get("required", [])) >= {e.id for e in master.employees} for d in named.values())


def test_year_and_month_calls_share_their_tools() -> None:
    assert story_tools(12) is story_tools(12)
    assert story_tools(12)[0]["input_schema"]["$defs"]["NotableDraft"]["properties"]["month"]["maximum"] == 12


def test_a_renamed_person_gets_a_matching_email() -> None:
    assert (
        _renamed_email("jane.doe12@bakery.fr", "Jane Doe", "Ana Ruiz-Pérez") == "ana.ruiz.perez12@bakery.fr"
    )
    assert _renamed_email("sales@bakery.fr", "Jane Doe", "Ana Ruiz") == "sales@bakery.fr"


async def test_the_company_schema_is_made_once_per_set_of_entity_ids() -> None:
    spec = ScenarioSpec(business_type="hotel", seed=5)  # type: ignore[arg-type]
    master = await SimulatedEngine().master_data(uuid4(), spec)
    other = await SimulatedEngine().master_data(uuid4(), spec.model_copy(update={"seed": 6}))
    assert [e.id for e in other.customers[:40]] == [e.id for e in master.customers[:40]]
    assert company_schema(other, 40) is company_schema(master, 40)
    fewer = master.model_copy(update={"employees": master.employees[:-1]})
    schema = company_schema(fewer, 40).model_json_schema()
    assert company_schema(fewer, 40) is not company_schema(master, 40)
    required = set().union(*(d.get("required", []) for d in schema["$defs"].values()))
    assert master.employees[-1].id not in required and master.employees[0].id in required
