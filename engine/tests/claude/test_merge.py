"""What the model wrote lands in the data by id, beside numbers it never touches."""

import random
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

from cube_contracts.events import derived_id
from cube_contracts.model import BusinessEvent, ScenarioSpec
from cube_engine import SimulatedEngine
from cube_engine.claude.calls import company_allowed, company_problems
from cube_engine.claude.merge import link_related, merge_master, month_events
from cube_engine.claude.numbers import Ledger, numbers_in
from cube_engine.claude.schemas import MonthDraft, NotableText, company_schema
from tests.fakes.schema_fill import fill


def test_a_notable_event_is_told_beside_the_ledger_event_it_explains() -> None:
    sid = uuid4()
    spec = ScenarioSpec(business_type="tech_startup", seed=1, months=6)
    funding = BusinessEvent(
        event_id=derived_id(sid, "funding", 5),
        scenario_id=sid,
        month=5,
        occurred_at=datetime(2025, 5, 14, 11, tzinfo=UTC),
        event_type="funding_received",
        amount=Decimal("750000.00"),
        currency="EUR",
    )
    notable = link_related(
        [
            {"kind": "funding_round", "title": "Seed extension", "summary": "Investors double down."},
            {"kind": "press", "title": "A profile", "summary": "A trade paper writes about the team."},
        ],
        [funding],
    )
    assert notable[0]["related"] == "funding_received of 750,000.00 EUR on 2025-05-14"
    assert "related" not in notable[1]
    draft = MonthDraft(
        headline="The round closes",
        narrative="The seed extension of 750,000.00 EUR landed. Hiring starts in 17 days.",
        notable_events=[NotableText(number=1, title="Seed extension", narrative="Signed in 2025.")],
    )
    allowed = Ledger([funding.amount], extra=numbers_in("May 2025", notable[0]["related"]))
    told = month_events(sid, spec, 5, draft, notable, "A year of focus", [funding], allowed)
    narrative, round_, press = told
    assert narrative.event_type == "narrative" and narrative.amount is None
    # 750,000.00 is the ledger's; 17 days is not a ledger number, so that sentence is cut.
    assert narrative.attributes["narrative"] == "The seed extension of 750,000.00 EUR landed."
    assert round_.attributes["related_event_id"] == str(funding.event_id)
    assert round_.occurred_at == funding.occurred_at and round_.amount is None
    assert press.attributes["narrative"] == "A trade paper writes about the team."  # told by the year call
    assert all(e.month == 5 and e.occurred_at.month == 5 for e in told)
    assert [e.event_id for e in told] == [
        e.event_id for e in month_events(sid, spec, 5, draft, notable, "", [], allowed)
    ]


async def test_a_name_used_twice_costs_no_repair_and_stays_unique() -> None:
    spec = ScenarioSpec(business_type="hotel", seed=4)
    master = await SimulatedEngine().master_data(uuid4(), spec)
    schema = company_schema(master, 40)
    answer = fill(schema.model_json_schema(), random.Random(1))
    staff = answer["employees"]
    first, second = list(staff)[:2]
    staff[second]["name"] = staff[first]["name"] = "Hazel Maple"
    draft = schema.model_validate(answer)
    allowed = company_allowed(spec, master)
    assert company_problems(draft, allowed) == []  # the model is not asked again
    merged = merge_master(master, draft, spec, allowed)
    names = {e.id: e.name for e in merged.employees}
    original = {e.id: e.name for e in master.employees}
    assert names[first] == "Hazel Maple" and names[second] == original[second]
    assert len(set(names.values())) == len(names)
