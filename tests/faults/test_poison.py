"""(f) A poison message on each pipeline topic. One that names a running scenario (header
`scenario_id`) lands in `<topic>.dlq` and fails that scenario with an error naming the topic;
one that names no scenario only lands in the DLQ, and the other scenarios complete."""

import json
import time
from uuid import uuid4

import pytest

from cube_contracts import MONTH_REQUESTED, month_key, scenario_key
from cube_contracts.topics import dlq
from tests.faults.harness import PIPELINE, FaultStack, Run, body, publish_raw, read_topic

pytestmark = [pytest.mark.faults, pytest.mark.faults_full, pytest.mark.connected, pytest.mark.slow]


def poison(marker: str) -> bytes:
    """JSON that no event contract accepts (unknown event type, no envelope)."""
    return json.dumps({"event_type": "NotAnEvent", "poison": marker, "attempt": "many"}).encode()


@pytest.mark.parametrize("topic", PIPELINE)
async def test_f_poison_message_on_a_pipeline_topic(topic: str, shared_fault_stack: FaultStack) -> None:
    fs = shared_fault_stack
    seed = 800 + 2 * PIPELINE.index(topic)
    async with Run(fs, f"(f) poison on {topic}") as run:
        target = await run.post(body("hotel", seed), expect="failed", error_contains=topic)
        bystander = await run.post(body("bakery", seed + 1))
        await run.wait_for(lambda: target.status == "processing", 20, "the target scenario processing")
        marker = uuid4().hex
        named, anonymous = poison(f"{marker}-named"), poison(f"{marker}-anonymous")
        key = month_key(target.sid, 1) if topic == MONTH_REQUESTED else scenario_key(target.sid)
        run.fault(f"poison on {topic}: one naming a running scenario, one naming none")
        await publish_raw(fs.bootstrap, topic, named, key=key, headers={"scenario_id": target.sid})
        await publish_raw(fs.bootstrap, topic, anonymous, key=b"no-scenario")
        await run.wait_terminal(60)

        deadline = time.monotonic() + 20
        dead: list[bytes] = []
        while time.monotonic() < deadline and not {named, anonymous} <= set(dead):
            dead = [bytes(r.value) for r in await read_topic(fs.bootstrap, dlq(topic))]
        assert named in dead, f"the poison message naming {target.sid} is not in {dlq(topic)}"
        assert anonymous in dead, f"the poison message naming no scenario is not in {dlq(topic)}"
        assert bystander.expect == "completed"
        await run.verify()
