"""What the cross-service tests share: driving a scenario through the API, reading topics."""

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

TERMINAL = {"completed", "failed", "cancelled"}


async def drive(client: httpx.AsyncClient, body: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    """POST a scenario and poll it to a terminal status; returns the last view and every one seen."""
    resp = await client.post("/api/scenarios", json=body)
    assert resp.status_code == 202, resp.text
    sid = resp.json()["scenario_id"]
    seen: list[dict[str, Any]] = []
    legacy: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = (await client.get(f"/api/scenarios/{sid}")).json()
        seen.append(view)
        legacy.append((await client.get(f"/api/status/{sid}")).json()["currentStage"])
        if view["status"] in TERMINAL:
            return {"final": view, "seen": seen, "legacy": legacy, "id": sid}
        await asyncio.sleep(0.03)
    raise AssertionError(f"scenario {sid} did not finish in {timeout} s; last: {seen[-1]}")


async def read_topic(bootstrap: str, topic: str, key: bytes | None = None) -> list[Any]:
    """Every record of `topic` from the earliest offset, with a separate group-less consumer."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        if not parts:
            await consumer.force_metadata_update()
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        records = []

        async def behind() -> bool:
            for tp in parts:
                if await consumer.position(tp) < end[tp]:
                    return True
            return False

        while await behind():
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(r for r in recs if key is None or r.key == key)
        return records
    finally:
        await consumer.stop()


def values(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]


async def insert_scenario(
    pool: Any,
    spec: Any,
    sid: Any,
    *,
    engine: str = "simulated",
    master: Any = None,
    status: str | None = None,
) -> None:
    """A scenario's rows as the gateway (and, with `master`, the planner) writes them; `status`
    adds its status row."""
    await pool.execute(
        "INSERT INTO scenarios (scenario_id, business_type, engine, seed, months, spec)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        sid, spec.business_type.value, engine, spec.seed, spec.months, json.loads(spec.model_dump_json()),
    )  # fmt: skip
    if master is not None:
        await pool.execute(
            "INSERT INTO master_data (scenario_id, data) VALUES ($1, $2)",
            sid,
            json.loads(master.model_dump_json()),
        )
    if status is not None:
        await pool.execute(
            "INSERT INTO scenario_status (scenario_id, status, stage, progress, months_total)"
            " VALUES ($1, $2, 'stage2_trends', 20, $3)",
            sid, status, spec.months,
        )  # fmt: skip


async def rings_heard(pool: Any, act: Callable[[], Awaitable[None]], wait: float = 2.0) -> list[str]:
    """The doorbell rings (topics) heard on the real database while `act` runs, waiting up to
    `wait` seconds after it for the first."""
    from cube_runtime.doorbell import CHANNEL
    from cube_runtime.listen import Listener

    heard: list[str] = []
    rung = asyncio.Event()

    def hear(topic: str) -> None:
        heard.append(topic)
        rung.set()

    listener = Listener(CHANNEL, hear)
    await listener.start(pool)
    try:
        await act()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rung.wait(), wait)
        return heard
    finally:
        await listener.stop()
