"""Months of one scenario run at the same time on two month-worker processes."""

from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from cube_runtime.launcher import Stack
from cube_runtime.testing import Infra
from tests.conftest import running_stack
from tests.helpers import drive, read_topic, values

pytestmark = [pytest.mark.connected, pytest.mark.slow]


@pytest.fixture(scope="module")
def slow_stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose engine waits like the first version's LLM calls, scaled by 1/100."""
    with running_stack(infra, tmp_path_factory.mktemp("slow"), CUBE_SIM_LATENCY="seed-scaled") as s:
        yield s


async def test_months_overlap_across_two_worker_processes(slow_stack: Stack, infra: Infra) -> None:
    async with httpx.AsyncClient(base_url=slow_stack.url, timeout=10) as client:
        run = await drive(client, {"business_type": "tech_startup", "seed": 5, "months": 12})
    assert run["final"]["status"] == "completed"
    results = values(await read_topic(infra.bootstrap, "month.completed", key=run["id"].encode()))
    started = {e["month"]: e for e in results if e["event_type"] == "MonthStarted"}
    done = {e["month"]: e for e in results if e["event_type"] == "MonthCompleted"}
    assert set(started) == set(done) == set(range(1, 13))
    spans = {
        m: (started[m]["worker"], datetime.fromisoformat(started[m]["occurred_at"]),
            datetime.fromisoformat(done[m]["occurred_at"]))
        for m in started
    }  # fmt: skip
    workers = {w for w, _, _ in spans.values()}
    assert len(workers) == 2, f"months ran on {workers}"
    overlapping = [
        (a, b)
        for a, (wa, sa, ea) in spans.items()
        for b, (wb, sb, eb) in spans.items()
        if wa != wb and sa < eb and sb < ea
    ]
    assert overlapping, "no two months of different workers overlapped in time"
    first_start = min(s for _, s, _ in spans.values())
    last_end = max(e for _, _, e in spans.values())
    # Twelve 0.3 s months one after another would take 3.6 s.
    assert (last_end - first_start).total_seconds() < 1.8
