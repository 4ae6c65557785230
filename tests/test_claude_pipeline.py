"""The claude engine through the whole stack, the real anthropic SDK against a local fake."""

import asyncio
import contextlib
import time
from collections.abc import Iterator
from uuid import UUID

import asyncpg
import httpx
import pytest

from cube_runtime.launcher import Stack
from cube_runtime.testing import Infra
from tests.conftest import running_stack
from tests.fakes.anthropic_api import FakeAnthropic
from tests.helpers import drive

pytestmark = [pytest.mark.connected, pytest.mark.slow]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(scope="module")
def claude_stack(
    infra: Infra, fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    env = {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": fake.base_url, "CUBE_ENGINE": "claude"}
    with running_stack(infra, tmp_path_factory.mktemp("claude"), **env) as s:
        yield s


@pytest.mark.parametrize("business_type", ["bakery", "hotel", "tech_startup"])
async def test_claude_scenarios_complete_validated_with_usage(
    business_type: str, claude_stack: Stack, fake: FakeAnthropic, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=claude_stack.url, timeout=10) as client:
        run = await drive(client, {"business_type": business_type, "seed": 21, "months": 4}, timeout=90)
        final = run["final"]
        assert final["status"] == "completed", final
        assert final["engine"] == "claude"
        usage = final["usage"]
        assert usage["calls"] >= 6 and usage["input_tokens"] > 0 and usage["output_tokens"] > 0
        assert usage["cost_usd"] > 0 and usage["cache_read_input_tokens"] > 0
        assert any(k.startswith("llm_") for k in final["timings"])
        validation = (await client.get(f"/api/scenarios/{run['id']}/validation")).json()
        assert validation["passed"] is True
        narratives = (
            await client.get(f"/api/scenarios/{run['id']}/events", params={"event_type": "narrative"})
        ).json()["items"]
        assert len(narratives) == 4 and all(n["attributes"]["narrative"] for n in narratives)
    assert fake.stats.cache_reads > 0


@contextlib.contextmanager
def slow_story(fake: FakeAnthropic, seconds: float) -> Iterator[None]:
    """The year's story call takes `seconds` while the block runs."""
    fake.latency = {"write_year": seconds}
    try:
        yield
    finally:
        fake.latency = 0.0


async def test_months_start_while_the_story_is_written(
    claude_stack: Stack, fake: FakeAnthropic, pool: asyncpg.Pool
) -> None:
    # The numbers of a month do not wait for the year's story: with a slow story call, the
    # month-workers render while it runs, and take the story from the database when it is stored.
    with slow_story(fake, 1.5):
        async with httpx.AsyncClient(base_url=claude_stack.url, timeout=10) as client:
            run = await drive(client, {"business_type": "hotel", "seed": 22, "months": 3}, timeout=90)
            final = run["final"]
            assert final["status"] == "completed", final
            timings = final["timings"]
            assert timings["months_started"] < timings["trends_done"] < timings["months_done"]
            validation = (await client.get(f"/api/scenarios/{run['id']}/validation")).json()
            assert validation["passed"] is True
    rows = await pool.fetch(
        "SELECT plan, later, complete FROM month_plans WHERE scenario_id = $1", UUID(run["id"])
    )
    # The numbers were stored while the story was written; then only the story was added.
    assert len(rows) == 3 and all(r["complete"] and set(r["later"]) == {"story"} for r in rows)
    assert all(r["plan"]["story"]["pending"] for r in rows)
    assert all("pending" not in r["later"]["story"] and r["later"]["story"]["master"] for r in rows)


async def test_a_scenario_cancelled_while_its_story_is_written_keeps_nothing(
    claude_stack: Stack, fake: FakeAnthropic, pool: asyncpg.Pool
) -> None:
    # Its months have rendered their numbers and wait for the story, storing nothing before their
    # calls are out; cancelled, they stop waiting, and nothing of them is stored afterwards.
    with slow_story(fake, 2.5):
        async with httpx.AsyncClient(base_url=claude_stack.url, timeout=10) as client:
            resp = await client.post(
                "/api/scenarios", json={"business_type": "hotel", "seed": 23, "months": 3}
            )
            sid = UUID(resp.json()["scenario_id"])
            deadline = time.monotonic() + 20
            while "months_started" not in (
                (await client.get(f"/api/scenarios/{sid}")).json()["timings"] or {}
            ):
                assert time.monotonic() < deadline, "the months did not start ahead of their story"
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # their numbers rendered, they wait for the story
            assert not await pool.fetchval("SELECT count(*) FROM business_events WHERE scenario_id = $1", sid)
            assert (await client.post(f"/api/scenarios/{sid}/cancel")).status_code == 202
            await asyncio.sleep(3.0)  # the story is stored meanwhile; nothing comes of it
            assert (
                await pool.fetchval("SELECT count(*) FROM business_events WHERE scenario_id = $1", sid) == 0
            )
            view = (await client.get(f"/api/scenarios/{sid}")).json()
            assert view["status"] == "cancelled"
            results = await pool.fetchval("SELECT count(*) FROM month_results WHERE scenario_id = $1", sid)
            assert results == 0
