"""(a) a month-worker and (b) the planner are killed (SIGKILL) in the middle of their work; the
launcher restarts them and every scenario still completes with exactly its events."""

import signal
import time
from collections import Counter

import pytest

from tests.faults.harness import FaultStack, Run, body, months_in_flight

pytestmark = [pytest.mark.faults, pytest.mark.connected, pytest.mark.slow]

RECOVERY_DEADLINE = 90.0


async def test_a_month_worker_killed_in_the_middle_of_a_month(shared_fault_stack: FaultStack) -> None:
    fs = shared_fault_stack
    async with Run(fs, "(a) month-worker SIGKILL mid-month") as run:
        await run.post_many([body("bakery", 101), body("hotel", 102), body("tech_startup", 103)])
        await run.wait_for(
            lambda: any(t.months_done > 0 for t in run.tracked.values()), 30, "a first month done"
        )
        flying: dict[tuple[str, int], str] = {}
        deadline = time.monotonic() + 5
        while not flying and time.monotonic() < deadline:
            flying = await months_in_flight(fs.bootstrap, run.tracked)
        assert flying, f"no month in flight once the first was done:\n{run.describe()}"
        victim, months = Counter(flying.values()).most_common(1)[0]
        run.fault(f"SIGKILL {victim} with {months} months started, not completed")
        fs.signal_service(victim, signal.SIGKILL)
        await run.wait_terminal(RECOVERY_DEADLINE)
        await run.verify()
    assert fs.service(victim).restarts >= 1, "the launcher did not restart the killed worker"


async def test_b_planner_killed_while_it_plans(shared_fault_stack: FaultStack) -> None:
    fs = shared_fault_stack
    planning = {"starting", "stage1_generating", "stage2_trends"}
    async with Run(fs, "(b) planner SIGKILL while planning") as run:
        await run.post_many([body("bakery", 201), body("hotel", 202), body("tech_startup", 203)])
        await run.wait_for(
            lambda: any(t.stage == "stage1_generating" for t in run.tracked.values()), 30, "master data stage"
        )
        assert all(t.stage in planning | {"queued"} for t in run.tracked.values()), run.describe()
        run.fault("SIGKILL planner in stage 1")
        fs.signal_service("planner", signal.SIGKILL)
        await run.wait_terminal(RECOVERY_DEADLINE)
        await run.verify()
    assert fs.service("planner").restarts >= 1, "the launcher did not restart the planner"
