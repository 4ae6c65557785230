"""A fetched batch on the real database: the records that keep their contract are projected in
one transaction, and one that breaks it goes to its dead-letter topic and fails its scenario."""

import json
from uuid import uuid4

import asyncpg
import pytest
from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from cube_contracts import (
    MONTH_COMPLETED,
    SCENARIO_LIFECYCLE,
    SCENARIO_PLANNING,
    Envelope,
    MonthCompleted,
    PlanningStarted,
    ScenarioFailed,
    derived_id,
)
from cube_contracts.topics import dlq
from cube_progress.app import project_records

pytestmark = pytest.mark.connected


def _record(topic: str, offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, offset, 0, 0, b"k", value, None, 1, len(value), [])


def _event(topic: str, offset: int, event: Envelope) -> ConsumerRecord[bytes, bytes]:
    return _record(topic, offset, event.model_dump_json().encode())


async def test_a_bad_record_does_not_stop_the_good_ones(pool: asyncpg.Pool) -> None:
    sid, other = uuid4(), uuid4()
    broker = KafkaBroker()
    dead: list[bytes] = []
    failures: list[ScenarioFailed] = []

    @broker.subscriber(dlq(MONTH_COMPLETED))
    async def dead_letters(msg: KafkaMessage) -> None:
        dead.append(msg.body)

    @broker.subscriber(SCENARIO_LIFECYCLE)
    async def lifecycle(msg: KafkaMessage) -> None:
        failures.append(ScenarioFailed.model_validate_json(msg.body))

    def done(scenario: object, month: int) -> MonthCompleted:
        return MonthCompleted.model_validate(
            {"scenario_id": scenario, "producer": "t", "month": month, "months_total": 2, "event_count": 1,
             "content_hash": "h", "duration_ms": 1}
        )  # fmt: skip

    poison = json.dumps({"event_type": "MonthCompleted", "scenario_id": str(sid), "month": "soon"}).encode()
    records = [
        _event(SCENARIO_PLANNING, 7, PlanningStarted(scenario_id=sid, producer="t", months_total=2)),
        _event(MONTH_COMPLETED, 20, done(sid, 1)),
        _record(MONTH_COMPLETED, 21, poison),
        _event(MONTH_COMPLETED, 22, done(other, 2)),
        _event(MONTH_COMPLETED, 23, done(sid, 2)),
    ]
    async with TestKafkaBroker(broker) as br:
        assert await project_records(br, pool, records) == 4

    found = await pool.fetch(
        "SELECT * FROM scenario_status WHERE scenario_id = ANY($1::uuid[])", [sid, other]
    )
    rows = {r["scenario_id"]: r for r in found}
    assert (rows[sid]["stage"], rows[sid]["months_seen"]) == ("storing", [1, 2])
    assert (rows[other]["stage"], rows[other]["months_seen"]) == ("stage3_months", [2])
    assert dead == [poison]
    [failed] = failures
    assert failed.scenario_id == sid
    assert failed.event_id == derived_id(sid, "ScenarioFailed", "dlq", MONTH_COMPLETED, 0, 21)
