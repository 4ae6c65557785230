"""(h) Fifty scenarios posted at once on two month-workers: every one completes, exactly.

Twice: with the month-workers' default concurrency (32 months at once each: the 600 months take
seconds), and with 3 months at once each, which leaves a backlog of about 30 s of months, several
times the stage deadline (CUBE_STAGE_DEADLINE_S=5): a scenario waiting in a healthy queue is
not stuck, and must not be re-driven into a pile of duplicate work, nor failed."""

import pytest

from tests.faults.harness import FaultStack, Run, body

pytestmark = [pytest.mark.faults, pytest.mark.faults_full, pytest.mark.connected, pytest.mark.slow]

SCENARIOS = 50
TYPES = ("bakery", "hotel", "tech_startup")


@pytest.mark.timeout(400)
@pytest.mark.parametrize(
    "own_fault_stack",
    [{"CUBE_MONTH_CONCURRENCY": "32"}, {"CUBE_MONTH_CONCURRENCY": "3"}],
    ids=["default-concurrency", "backlog"],
    indirect=True,
)
async def test_h_fifty_scenarios_at_once(own_fault_stack: FaultStack) -> None:
    fs = own_fault_stack
    assert sum(1 for s in fs.stack.services if s.name.startswith("month-worker")) == 2
    concurrency = fs.stack.extra_env["CUBE_MONTH_CONCURRENCY"]
    # Half a second between polling rounds: fifty scenarios polled every 0.1 s would load the
    # gateway more than the pipeline.
    async with Run(fs, f"(h) {SCENARIOS} at once, {concurrency} months/worker", poll_interval=0.5) as run:
        run.fault(f"{SCENARIOS} POSTs at once, 2 month-workers x {concurrency} months at once")
        await run.post_many([body(TYPES[i % 3], 1000 + i) for i in range(SCENARIOS)])
        run.in_flight = SCENARIOS
        await run.wait_terminal(240)
        await run.verify()
