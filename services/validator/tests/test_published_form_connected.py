"""The analytics form PostgreSQL renders is the API's JSON of every event, in order."""

import json
from datetime import timedelta
from uuid import uuid4

import asyncpg
import pytest

from cube_contracts import BusinessType, ScenarioSpec
from cube_engine import generate
from cube_month_worker.store import replace_month
from cube_validator.analytics import as_published, published_form, to_json
from cube_validator.repository import load_scenario
from tests.helpers import insert_scenario

pytestmark = pytest.mark.connected


@pytest.mark.parametrize("business_type", list(BusinessType))
async def test_the_rendered_form_is_the_json_of_every_event(
    pool: asyncpg.Pool, business_type: BusinessType
) -> None:
    sid = uuid4()
    spec = ScenarioSpec(business_type=business_type, seed=11, months=2)
    master, _, months = generate(spec, sid)
    first = months[0][0]  # and an instant with microseconds
    months[0][0] = first.model_copy(
        update={"occurred_at": first.occurred_at + timedelta(microseconds=120050)}
    )
    await insert_scenario(pool, spec, sid, master=master)
    for month, events in enumerate(months, start=1):
        await replace_month(pool, sid, month, events)
    _, _, _, stored = await load_scenario(pool, sid)
    rendered = await published_form(pool, sid)
    assert len(rendered) == len(stored) == sum(len(m) for m in months) > 100
    assert [r.event_id for r in rendered] == [e.event_id for e in stored]
    assert [r.event_type for r in rendered] == [e.event_type for e in stored]
    assert [json.loads(r.value) for r in rendered] == [json.loads(to_json(e)) for e in stored]
    assert [p.value for p in as_published(stored)] == [to_json(e) for e in stored]
