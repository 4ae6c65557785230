"""Records of a fetched batch are parsed one by one: a record that breaks its contract goes to
`<topic>.dlq` and fails the scenario it names, and the records around it are still parsed."""

import json
from uuid import UUID, uuid4

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import TypeAdapter

from cube_contracts import MONTH_COMPLETED, SCENARIO_LIFECYCLE, MonthStarted, ScenarioFailed, derived_id
from cube_contracts.events import MonthResult
from cube_contracts.topics import dlq
from cube_runtime.consume import parse_record_or_dead_letter

_result: TypeAdapter[MonthResult] = TypeAdapter(MonthResult)


def _record(offset: int, value: bytes | None, key: bytes = b"k") -> ConsumerRecord[bytes, bytes]:
    """A record of partition 4 of month.completed, as aiokafka fetches it."""
    headers = [("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    return ConsumerRecord(
        MONTH_COMPLETED, 4, offset, 0, 0, key, value, None, len(key), len(value or b""), headers
    )


def _started(sid: UUID, month: int) -> MonthStarted:
    return MonthStarted(scenario_id=sid, producer="t", month=month, months_total=12, worker="w")


class Captured:
    """What reached the dead-letter topic and scenario.lifecycle of an in-memory broker."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.dead: list[tuple[bytes, bytes | None, dict[str, str]]] = []
        self.failures: list[ScenarioFailed] = []

        @broker.subscriber(dlq(MONTH_COMPLETED))
        async def dead_letters(msg: KafkaMessage) -> None:
            self.dead.append((msg.body, msg.raw_message.key, dict(msg.headers)))  # type: ignore[union-attr]

        @broker.subscriber(SCENARIO_LIFECYCLE)
        async def lifecycle(msg: KafkaMessage) -> None:
            self.failures.append(ScenarioFailed.model_validate_json(msg.body))


async def test_a_bad_record_is_dead_lettered_and_the_others_are_parsed() -> None:
    sid = uuid4()
    first, last = _started(sid, 1), _started(sid, 2)
    poison = json.dumps({"event_type": "MonthStarted", "scenario_id": str(sid), "month": "soon"}).encode()
    broker = KafkaBroker()
    captured = Captured(broker)
    records = [
        _record(10, first.model_dump_json().encode()),
        _record(11, poison, key=str(sid).encode()),
        _record(12, last.model_dump_json().encode()),
    ]
    async with TestKafkaBroker(broker) as br:
        parsed = [await parse_record_or_dead_letter(br, r, _result, "progress") for r in records]

    assert parsed == [first, None, last]
    [(body, key, headers)] = captured.dead
    assert (body, key) == (poison, str(sid).encode())
    assert headers["traceparent"].startswith("00-0af7")
    assert (headers["dlq_source_topic"], headers["dlq_partition"], headers["dlq_offset"]) == (
        MONTH_COMPLETED, "4", "11",
    )  # fmt: skip
    assert headers["dlq_consumer"] == "progress" and "month" in headers["dlq_error"]
    [failed] = captured.failures
    assert failed.scenario_id == sid and failed.producer == "progress" and failed.stage == "stage3_months"
    assert failed.event_id == derived_id(sid, "ScenarioFailed", "dlq", MONTH_COMPLETED, 4, 11)


async def test_an_empty_record_naming_no_scenario_is_only_dead_lettered() -> None:
    broker = KafkaBroker()
    captured = Captured(broker)
    async with TestKafkaBroker(broker) as br:
        assert await parse_record_or_dead_letter(br, _record(3, None), _result, "validator") is None
    [(body, _, headers)] = captured.dead
    assert body == b"" and headers["dlq_offset"] == "3"
    assert captured.failures == []
