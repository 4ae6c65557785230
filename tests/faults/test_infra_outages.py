"""The broker or the database away during a run, each on a stack of its own:
(c) the broker killed and restarted (memory-only: every topic and offset lost),
(d) PostgreSQL killed and restarted, (e) the broker paused while POSTs arrive.
The launcher starts a killed broker or database again on the same port; the gateway's outbox
and the progress service's reconciler must make every scenario complete, exactly once."""

import asyncio
import signal
import time

import pytest

from tests.faults.harness import FaultStack, Run, body

pytestmark = [pytest.mark.faults, pytest.mark.faults_full, pytest.mark.connected, pytest.mark.slow]

SPECS = [body("bakery", 601), body("hotel", 602), body("tech_startup", 603)]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("victim", ["broker", "postgres"])
async def test_cd_embedded_infrastructure_killed_during_a_run(
    victim: str, own_fault_stack: FaultStack
) -> None:
    fs = own_fault_stack
    case = "(c) broker SIGKILL mid-run" if victim == "broker" else "(d) PostgreSQL SIGKILL mid-run"
    async with Run(fs, case) as run:
        await run.post_many(SPECS)
        await run.wait_for(
            lambda: any(t.months_done > 0 for t in run.tracked.values()), 30, "a first month done"
        )
        run.fault(f"SIGKILL embedded {victim}, the launcher starts it again")
        fs.signal_infra(victim, signal.SIGKILL)
        await run.wait_terminal(150)
        await run.verify()


@pytest.mark.timeout(200)
async def test_e_broker_down_while_posts_arrive(own_fault_stack: FaultStack) -> None:
    fs = own_fault_stack
    async with Run(fs, "(e) broker paused while POSTs arrive") as run:
        fs.signal_infra("broker", signal.SIGSTOP)
        try:
            run.fault("SIGSTOP broker, POST, SIGCONT after 5 s")
            started = time.monotonic()
            await run.post_many(SPECS)  # 202 each: the outbox holds them
            run.in_flight = len(run.tracked)
            took = time.monotonic() - started
            assert took < 5, f"POSTs took {took:.1f} s with the broker down"
            assert all(t.status == "queued" for t in run.tracked.values()), run.describe()
            await asyncio.sleep(5 - took)
            assert all(t.status == "queued" for t in run.tracked.values()), run.describe()
        finally:
            fs.signal_infra("broker", signal.SIGCONT)
        await run.wait_terminal(120)
        await run.verify()
