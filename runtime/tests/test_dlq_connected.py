"""`cube dlq list` and `cube dlq replay` on the real broker and database: a dead-lettered
message is listed, sent back to its source topic once, and a second replay sends nothing."""

import asyncio
import json
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import TypeAdapter

from cube_contracts import MonthResult
from cube_contracts.topics import TopicSpec
from cube_runtime import dlq, kafka
from cube_runtime.cli import main
from cube_runtime.consume import parse_or_dead_letter
from cube_runtime.testing import Infra

_result: TypeAdapter[MonthResult] = TypeAdapter(MonthResult)
CONSUMERS = ("progress", "validator")


def _poison(sid: UUID) -> bytes:
    return json.dumps({"event_type": "MonthCompleted", "scenario_id": str(sid), "month": "soon"}).encode()


async def _dead_letter(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes, int]]) -> None:
    """Two consumer groups read `messages` (body, key, partition) and dead-letter them, as the
    validator and progress both reject a broken message on month.completed."""
    broker = KafkaBroker(bootstrap)
    for name in CONSUMERS:

        def handler(name: str = name) -> object:
            async def consume(msg: KafkaMessage) -> None:
                await parse_or_dead_letter(broker, msg, _result, name)

            return consume

        options = {"group_id": f"{topic}-{name}", "auto_offset_reset": "earliest", "fetch_max_wait_ms": 10}
        broker.subscriber(topic, **options)(handler())  # type: ignore[arg-type]
    async with broker:
        await broker.start()
        for body, key, partition in messages:
            headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
            await broker.publish(body, topic, key=key, partition=partition, headers=headers)
        for _ in range(300):
            held, _ = await dlq.read_held(bootstrap, topic)
            if len(held) >= len(messages) * len(CONSUMERS):
                break
            await asyncio.sleep(0.1)
    assert len(held) == len(messages) * len(CONSUMERS)


async def _records(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every message of `topic`, read without a consumer group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            await consumer.topics()
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                out.extend(records)
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


@pytest.fixture
def env(infra: Infra, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Infra:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.bootstrap)
    monkeypatch.setenv("DATABASE_URL", infra.dsn)
    monkeypatch.setenv("CUBE_HOME", str(tmp_path))
    return infra


@pytest.mark.connected
def test_list_replay_once_and_never_again(env: Infra, capsys: pytest.CaptureFixture[str]) -> None:
    topic = f"dlq-cli-{uuid4().hex[:8]}"
    asyncio.run(
        kafka.ensure_topics(env.bootstrap, [TopicSpec(topic, 2, ""), TopicSpec(f"{topic}.dlq", 1, "")])
    )
    mine, other = uuid4(), uuid4()
    asyncio.run(
        _dead_letter(
            env.bootstrap,
            topic,
            [(_poison(mine), str(mine).encode(), 1), (_poison(other), str(other).encode(), 0)],
        )
    )
    capsys.readouterr()  # what FastStream's consumers logged

    assert main(["dlq", "list", "--topic", topic]) == 0
    listed = capsys.readouterr().out.splitlines()
    rows = [line for line in listed if line.startswith(topic)]
    assert len(rows) == 2  # one row per message, though two consumers dead-lettered each
    mine_row = next(r for r in rows if str(mine) in r)
    assert mine_row.split()[:4] == [topic, "1", "0", "progress,validator"]
    assert " no " in mine_row and "month" in mine_row
    assert listed[-1] == "2 dead-lettered message(s) (4 cop(ies)), 0 replayed"

    assert main(["dlq", "replay", "--topic", topic, "--scenario", str(mine), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"would replay: {topic} partition 1 offset 0 (scenario {mine})",
        "1 would replay, 0 already replayed, 0 skipped",
    ]
    assert len(asyncio.run(_records(env.bootstrap, topic))) == 2

    assert main(["dlq", "replay", "--topic", f"{topic}.dlq", "--scenario", str(mine)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"replayed: {topic} partition 1 offset 0 -> partition 1 offset 1",
        "1 replayed, 0 already replayed, 0 skipped",
    ]
    records = asyncio.run(_records(env.bootstrap, topic))
    assert len(records) == 3
    original, again = records[1], records[2]
    assert (again.partition, again.offset) == (1, 1)
    assert (again.key, again.value) == (original.key, original.value) == (str(mine).encode(), _poison(mine))
    headers = dict(again.headers)
    assert headers["traceparent"] == dict(original.headers)["traceparent"]
    assert not [k for k in headers if k.startswith("dlq_")]

    # Once only: a second replay sends nothing.
    assert main(["dlq", "replay", "--topic", topic, "--scenario", str(mine)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"already replayed: {topic} partition 1 offset 0 (at ")
    assert out[-1] == "0 replayed, 1 already replayed, 0 skipped"
    assert len(asyncio.run(_records(env.bootstrap, topic))) == 3

    assert main(["dlq", "list", "--topic", topic, "--scenario", str(mine)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len([line for line in listed if line.startswith(topic)]) == 1
    assert " no " not in listed[1] and listed[-1] == "1 dead-lettered message(s) (2 cop(ies)), 1 replayed"


@pytest.mark.connected
def test_an_unknown_topic_is_a_one_line_error(env: Infra, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "list", "--topic", "no.such.topic"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["cube: error: --topic: the broker has no dead-letter topic no.such.topic.dlq"]


@pytest.mark.parametrize("command", [["list"], ["replay", "--dry-run"]])
def test_a_missing_setting_is_a_one_line_error(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("CUBE_HOME", str(tmp_path))
    assert main(["dlq", *command]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("cube: error: KAFKA_BOOTSTRAP_SERVERS is not set"), err
