"""The whole pipeline: five real services over a real broker and PostgreSQL, driven through HTTP."""

from collections import Counter

import asyncpg
import httpx
import pytest

from cube_contracts import Stage
from cube_runtime.launcher import Stack
from cube_runtime.testing import Infra
from tests.helpers import drive, read_topic, values

pytestmark = [pytest.mark.connected, pytest.mark.slow]

STAGE_ORDER = [s.value for s in Stage]


@pytest.mark.parametrize("business_type", ["bakery", "hotel", "tech_startup"])
async def test_a_scenario_goes_from_post_to_validated_and_published(
    business_type: str, stack: Stack, infra: Infra, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as client:
        run = await drive(client, {"business_type": business_type, "seed": 11, "months": 12})
        final, sid = run["final"], run["id"]
        assert final["status"] == "completed", final
        assert final["progress"] == 100 and final["months_done"] == 12

        progress = [v["progress"] for v in run["seen"]]
        assert progress == sorted(progress), "progress went backwards"
        stages = [STAGE_ORDER.index(v["current_stage"]) for v in run["seen"]]
        assert stages == sorted(stages), "stages out of order"
        legacy = run["legacy"]
        assert legacy[-1] == "completed"
        assert all(s in STAGE_ORDER or s.startswith("stage3_month_") for s in legacy)

        stored = await pool.fetchval("SELECT count(*) FROM business_events WHERE scenario_id = $1", sid)
        distinct = await pool.fetchval(
            "SELECT count(DISTINCT (month, seq)) FROM business_events WHERE scenario_id = $1", sid
        )
        assert stored == distinct == final["event_count"] > 100

        paged, cursor = [], None
        while True:
            params = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
            page = (await client.get(f"/api/scenarios/{sid}/events", params=params)).json()
            paged += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        assert len(paged) == stored and len({e["event_id"] for e in paged}) == stored

        master = (await client.get(f"/api/scenarios/{sid}/master-data")).json()
        assert master["company"]["business_type"] == business_type
        validation = (await client.get(f"/api/scenarios/{sid}/validation")).json()
        assert validation["passed"] is True
        assert all(c["passed"] for c in validation["checks"] if c["severity"] == "error")

    published = values(await read_topic(infra.bootstrap, "analytics.business-events", key=sid.encode()))
    assert Counter(e["event_id"] for e in published) == Counter(e["event_id"] for e in paged)
    lifecycle = values(await read_topic(infra.bootstrap, "scenario.lifecycle", key=sid.encode()))
    assert [e["event_type"] for e in lifecycle if e["event_type"] == "ScenarioCompleted"] == [
        "ScenarioCompleted"
    ]


async def test_same_seed_gives_identical_events(stack: Stack, pool: asyncpg.Pool) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as client:
        body = {"business_type": "hotel", "seed": 2024, "months": 4}
        first, second = [await drive(client, body) for _ in range(2)]
    assert first["final"]["status"] == second["final"]["status"] == "completed"
    hashes = []
    for run in (first, second):
        rows = await pool.fetch(
            "SELECT month, content_hash FROM month_results WHERE scenario_id = $1 ORDER BY month", run["id"]
        )
        hashes.append([(r["month"], r["content_hash"]) for r in rows])
    assert hashes[0] == hashes[1] and len(hashes[0]) == 4
    columns = "month, seq, occurred_at, event_type, amount, customer_id, product_id, room_id, attributes"
    events = [
        [tuple(r) for r in await pool.fetch(f"SELECT {columns} FROM business_events WHERE scenario_id = $1"
                                            " ORDER BY month, seq", run["id"])]
        for run in (first, second)
    ]  # fmt: skip
    assert events[0] == events[1] and len(events[0]) > 0
