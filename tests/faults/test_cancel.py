"""(i) Cancel in every stage: queued, planning, months, validating. The scenario stays
cancelled and nothing of it reaches the analytics topic; a completed one answers 409."""

import asyncio
import signal
from typing import Any

import pytest

from tests.faults.harness import FaultStack, Run, Tracked, body, wait_drained

pytestmark = [pytest.mark.faults, pytest.mark.faults_full, pytest.mark.connected, pytest.mark.slow]

# Longer than a stage deadline (CUBE_STAGE_DEADLINE_S=5) plus a reconciler pass: a cancelled
# scenario that the reconciler wrongly re-drives would show within it.
SETTLE = 7.0


async def cancel(run: Run, t: Tracked) -> dict[str, Any]:
    resp = await run.client.post(f"/api/scenarios/{t.sid}/cancel")
    assert resp.status_code == 202, f"cancel in {t.stage}: {resp.status_code} {resp.text[:300]}"
    view = resp.json()
    assert view["status"] == "cancelled", view
    run.record(t, view)
    return view


@pytest.mark.timeout(200)
async def test_i_cancel_in_every_stage(shared_fault_stack: FaultStack) -> None:
    fs = shared_fault_stack
    pause, resume = signal.SIGSTOP, signal.SIGCONT
    async with Run(fs, "(i) cancel in every stage") as run:
        # queued: with the planner and the progress service paused nothing moves it on; the
        # planner finds the cancelled scenario once it runs again.
        for name in ("planner", "progress"):
            fs.signal_service(name, pause)
        try:
            queued = await run.post(body("bakery", 901), expect="cancelled")
            assert queued.status == "queued", queued.describe()
            run.fault("cancel while queued")
            await cancel(run, queued)
        finally:
            for name in ("planner", "progress"):
                fs.signal_service(name, resume)

        # planning: the planner paused in stage 1
        planning = await run.post(body("hotel", 902), expect="cancelled")
        await run.wait_for(lambda: planning.stage == "stage1_generating", 30, "stage 1")
        fs.signal_service("planner", pause)
        try:
            run.fault("cancel in stage1_generating")
            await cancel(run, planning)
        finally:
            fs.signal_service("planner", resume)

        # months: both month-workers paused as soon as the months are requested (two rounds of
        # 0.3 s months each), so months are open, some of them half rendered, when the cancel lands
        months = await run.post(body("tech_startup", 903), expect="cancelled")
        await run.wait_for(lambda: months.stage == "stage3_months", 30, "the months stage")
        workers = [s.name for s in fs.stack.services if s.name.startswith("month-worker")]
        for name in workers:
            fs.signal_service(name, pause)
        try:
            assert months.months_done < 12, months.describe()
            run.fault(f"cancel in stage3_months ({months.months_done} of 12 done)")
            await cancel(run, months)
        finally:
            for name in workers:
                fs.signal_service(name, resume)

        # validating: the validator paused until every month is in, then the cancel arrives
        # before it validates and publishes
        fs.signal_service("validator", pause)
        try:
            validating = await run.post(body("bakery", 904), expect="cancelled")
            await run.wait_for(lambda: validating.months_done == 12, 30, "every month done")
            run.fault("cancel when validation is due")
            await cancel(run, validating)
        finally:
            fs.signal_service("validator", resume)

        # completed: 409, and it stays completed
        done = await run.post(body("hotel", 905))
        await run.wait_for(lambda: done.terminal, 60, "the scenario completed")
        resp = await run.client.post(f"/api/scenarios/{done.sid}/cancel")
        assert resp.status_code == 409, f"cancel of a {done.status} scenario: {resp.status_code} {resp.text}"

        await run.wait_terminal(30)
        await wait_drained(fs.bootstrap, 60)
        await asyncio.sleep(SETTLE)
        await run.verify()
