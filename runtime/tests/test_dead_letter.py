"""A message that breaks its contract goes to `<topic>.dlq` with headers naming the error, and
fails the scenario it names; the same tests run in memory and on the real broker."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from uuid import UUID, uuid4

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import TypeAdapter

from cube_contracts import (
    MONTH_COMPLETED,
    SCENARIO_LIFECYCLE,
    MonthRequested,
    ScenarioCompleted,
    ScenarioFailed,
    derived_id,
)
from cube_runtime.consume import dead_letter_failure, parse_or_dead_letter, scenario_of
from cube_runtime.testing import Infra

_adapter = TypeAdapter(MonthRequested)


class Wired:
    """What one test consumer parsed, what reached the DLQ and what reached scenario.lifecycle."""

    def __init__(self) -> None:
        self.parsed: list[object] = []
        self.dead: list[tuple[bytes, dict[str, str]]] = []
        self.failures: list[ScenarioFailed] = []


def _wire(
    broker: KafkaBroker, topic: str, adapter: TypeAdapter[object] = _adapter, consumers: int = 1
) -> Wired:
    wired = Wired()
    group = f"t-{uuid4()}"

    def consumer(name: str) -> Callable[[KafkaMessage], Awaitable[None]]:
        async def consume(msg: KafkaMessage) -> None:
            event = await parse_or_dead_letter(broker, msg, adapter, name)
            if event is not None:
                wired.parsed.append(event)

        return consume

    # Several consumer groups on one topic, as progress and the validator both read month.completed.
    for i in range(consumers):
        options = {"group_id": f"{group}-{i}", "auto_offset_reset": "earliest", "fetch_max_wait_ms": 10}
        broker.subscriber(topic, **options)(consumer("test" if i == 0 else f"test-{i}"))

    @broker.subscriber(f"{topic}.dlq", group_id=group, auto_offset_reset="earliest", fetch_max_wait_ms=10)
    async def dead_letters(msg: KafkaMessage) -> None:
        wired.dead.append((msg.body, dict(msg.headers)))

    @broker.subscriber(SCENARIO_LIFECYCLE, group_id=group, auto_offset_reset="earliest", fetch_max_wait_ms=10)
    async def lifecycle(msg: KafkaMessage) -> None:
        body = json.loads(msg.body)
        if body.get("event_type") == "ScenarioFailed":
            wired.failures.append(ScenarioFailed.model_validate(body))

    return wired


async def _until(check: Callable[[], object], timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)


async def _poison_goes_to_the_dlq(broker: KafkaBroker, real: bool, topic: str) -> None:
    wired = _wire(broker, topic)
    async with TestKafkaBroker(broker, with_real=real) as br:
        await br.publish(b'{"event_type": "MonthRequested", "month": "soon"}', topic, key=b"k")
        await _until(lambda: wired.dead)
    assert wired.parsed == []
    body, headers = wired.dead[0]
    assert body == b'{"event_type": "MonthRequested", "month": "soon"}'
    assert headers["dlq_source_topic"] == topic
    assert "month" in headers["dlq_error"] and headers["dlq_consumer"] == "test"
    assert {"dlq_partition", "dlq_offset"} <= set(headers)


async def test_poison_message_in_memory() -> None:
    await _poison_goes_to_the_dlq(KafkaBroker(), real=False, topic="month.requested")


@pytest.mark.connected
async def test_poison_message_on_the_real_broker(infra: Infra) -> None:
    from cube_contracts.topics import TopicSpec
    from cube_runtime.kafka import ensure_topics

    topic = f"dlq-test-{uuid4().hex[:8]}"
    await ensure_topics(infra.bootstrap, [TopicSpec(topic, 1, ""), TopicSpec(f"{topic}.dlq", 1, "")])
    await _poison_goes_to_the_dlq(KafkaBroker(infra.bootstrap), real=True, topic=topic)


def _poison(sid: UUID) -> bytes:
    return json.dumps({"event_type": "MonthCompleted", "scenario_id": str(sid), "month": "soon"}).encode()


async def _poison_fails_its_scenario(broker: KafkaBroker, real: bool, topic: str, consumers: int) -> None:
    sid = uuid4()
    wired = _wire(broker, topic, consumers=consumers)
    async with TestKafkaBroker(broker, with_real=real) as br:
        await br.publish(_poison(sid), topic, key=str(sid).encode())
        await _until(lambda: len(wired.dead) >= consumers and len(wired.failures) >= consumers)
        await asyncio.sleep(0.2)  # nothing more arrives
    assert len(wired.dead) == consumers
    mine = [f for f in wired.failures if f.scenario_id == sid]
    assert len(mine) == consumers
    # Every consumer that dead-lettered the message emits the same event: consumers dedupe it to one.
    assert len({f.event_id for f in mine}) == 1
    failed = mine[0]
    _, headers = wired.dead[0]
    partition, offset = int(headers["dlq_partition"]), int(headers["dlq_offset"])
    assert failed.event_id == derived_id(sid, "ScenarioFailed", "dlq", topic, partition, offset)
    assert failed.producer.startswith("test")
    assert failed.reason.startswith(f"a message on {topic} (partition {partition}, offset {offset}) broke")
    assert "month" in failed.reason and f"{topic}.dlq" in failed.reason
    assert "`cube dlq list`" in failed.reason and "`cube dlq replay`" in failed.reason


async def test_poison_with_a_scenario_fails_the_scenario_once_in_memory() -> None:
    await _poison_fails_its_scenario(KafkaBroker(), real=False, topic=MONTH_COMPLETED, consumers=2)


@pytest.mark.connected
async def test_poison_with_a_scenario_fails_the_scenario_on_the_real_broker(infra: Infra) -> None:
    from cube_contracts.topics import TopicSpec
    from cube_runtime.kafka import ensure_topics

    # A topic of its own: the session's stacks also consume the pipeline topics.
    topic = f"dlq-test-{uuid4().hex[:8]}"
    await ensure_topics(infra.bootstrap, [TopicSpec(topic, 2, ""), TopicSpec(f"{topic}.dlq", 1, "")])
    await _poison_fails_its_scenario(KafkaBroker(infra.bootstrap), real=True, topic=topic, consumers=2)


@pytest.mark.parametrize(
    ("topic", "stage"),
    [
        ("scenario.requested", "starting"),
        ("scenario.planning", "stage1_generating"),
        ("month.requested", "stage3_months"),
        ("month.completed", "stage3_months"),
        ("scenario.lifecycle", "validating"),
    ],
)
def test_the_failure_names_the_stage_of_the_topic(topic: str, stage: str) -> None:
    sid = uuid4()
    failed = dead_letter_failure(_poison(sid), {}, topic, 3, 17, "validator", "month: field required")
    assert failed is not None
    assert (failed.scenario_id, failed.stage, failed.producer) == (sid, stage, "validator")
    assert failed.reason == (
        f"a message on {topic} (partition 3, offset 17) broke its contract (month: field required);"
        f" it is kept in {topic}.dlq: `cube dlq list` shows it, `cube dlq replay` re-sends it once"
        " fixed, then retry the scenario"
    )


def test_the_scenario_comes_from_the_header_first_then_the_body() -> None:
    a, b = uuid4(), uuid4()
    assert scenario_of(_poison(a), {"scenario_id": str(b)}) == b
    assert scenario_of(_poison(a), {"scenario_id": "not a uuid"}) == a
    assert scenario_of(b"not json", {"scenario_id": str(b)}) == b
    assert scenario_of(b"not json", {}) is None
    assert scenario_of(b'{"scenario_id": "nope"}', {}) is None
    assert scenario_of(b'{"scenario_id": 12}', {}) is None
    assert scenario_of(b'["a list"]', {}) is None
    assert scenario_of(b"\xff\xfe", {}) is None


def test_no_scenario_no_failure() -> None:
    assert dead_letter_failure(b'{"month": 1}', {}, MONTH_COMPLETED, 0, 1, "validator", "x") is None


def test_a_valid_scenario_failed_never_fails_its_scenario_again() -> None:
    failed = ScenarioFailed(scenario_id=uuid4(), producer="validator", stage="validating", reason="r")
    body = failed.model_dump_json().encode()
    assert dead_letter_failure(body, {}, SCENARIO_LIFECYCLE, 0, 1, "narrow", "x") is None


async def test_a_valid_scenario_failed_rejected_by_a_narrow_consumer_is_only_dead_lettered() -> None:
    broker = KafkaBroker()
    wired = _wire(broker, SCENARIO_LIFECYCLE, adapter=TypeAdapter(ScenarioCompleted))
    failed = ScenarioFailed(scenario_id=uuid4(), producer="validator", stage="validating", reason="r")
    async with TestKafkaBroker(broker) as br:
        await br.publish(failed.model_dump_json().encode(), SCENARIO_LIFECYCLE)
        await _until(lambda: wired.dead)
        await asyncio.sleep(0.1)
    assert len(wired.dead) == 1
    assert wired.failures == [failed]  # the one published above, no second one
