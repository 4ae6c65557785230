"""(g) Every pipeline message of a scenario delivered twice: once mid-run, once after the end.
At-least-once delivery must change nothing: same outcome, same counts, nothing published twice."""

import pytest

from tests.faults.harness import FaultStack, Run, body, pipeline_records, republish, wait_drained

pytestmark = [pytest.mark.faults, pytest.mark.connected, pytest.mark.slow]


async def test_g_a_duplicate_of_every_pipeline_event(shared_fault_stack: FaultStack) -> None:
    fs = shared_fault_stack
    async with Run(fs, "(g) duplicate of every pipeline event") as run:
        await run.post_many([body("bakery", 701), body("tech_startup", 702)])
        await run.wait_for(
            lambda: all(t.months_done > 0 or t.terminal for t in run.tracked.values()), 30, "months under way"
        )
        records = await pipeline_records(fs.bootstrap, run.tracked)
        run.fault(f"{len(records)} pipeline messages re-published mid-run")
        await republish(fs.bootstrap, records)
        await run.wait_terminal(60)
        await wait_drained(fs.bootstrap, 30)

        # Afterwards: one more copy of every distinct message, the duplicates of the first pass included.
        distinct = {
            (r.topic, r.partition, r.key, r.value): r
            for r in await pipeline_records(fs.bootstrap, run.tracked)
        }
        run.fault(f"{len(distinct)} re-published after the end")
        await republish(fs.bootstrap, list(distinct.values()))
        await wait_drained(fs.bootstrap, 30)
        await run.verify()
