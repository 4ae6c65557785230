"""The outbox on the real database and broker: one transaction, then relayed, never lost."""

import asyncio
import json
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from cube_contracts import STAGE_MESSAGES, ScenarioRequested, ScenarioSpec, Stage
from cube_gateway import outbox, repository
from cube_gateway.outbox import Relay
from cube_runtime.doorbell import CHANNEL as DOORBELL
from cube_runtime.embedded import free_port
from cube_runtime.listen import Listener
from cube_runtime.testing import Infra

pytestmark = pytest.mark.connected


async def test_post_writes_scenario_status_and_outbox_then_publishes(
    client: httpx.AsyncClient, pool: asyncpg.Pool, wait_sent: Any, requested_records: Any
) -> None:
    resp = await client.post("/api/scenarios", json={"business_type": "bakery", "seed": 7, "months": 3})
    assert resp.status_code == 202
    sid = resp.json()["scenario_id"]
    assert resp.headers["location"] == f"/api/scenarios/{sid}"
    scenario = await pool.fetchrow("SELECT * FROM scenarios WHERE scenario_id = $1", UUID(sid))
    status = await pool.fetchrow("SELECT * FROM scenario_status WHERE scenario_id = $1", UUID(sid))
    row = await pool.fetchrow("SELECT * FROM outbox WHERE key = $1", sid.encode())
    assert (scenario["business_type"], scenario["seed"], scenario["months"]) == ("bakery", 7, 3)
    assert (status["status"], status["stage"], status["progress"], status["months_total"]) == (
        "queued", "queued", 0, 3,
    )  # fmt: skip
    assert status["stage_message"] == STAGE_MESSAGES[Stage.QUEUED]
    assert row["topic"] == "scenario.requested"
    assert row["headers"] == {"event_type": "ScenarioRequested", "scenario_id": sid}
    assert await wait_sent(sid), "the relay did not publish the outbox row"
    records = await requested_records(sid)
    assert len(records) == 1
    event = ScenarioRequested.model_validate_json(records[0].value)
    assert str(event.scenario_id) == sid and event.spec.seed == 7 and event.spec.months == 3
    assert dict(records[0].headers)["event_type"] == b"ScenarioRequested"


async def test_a_failed_outbox_write_leaves_no_scenario(pool: asyncpg.Pool, monkeypatch: Any) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("outbox write failed")

    monkeypatch.setattr(outbox, "add", broken)
    key = str(uuid4())
    spec = ScenarioSpec(business_type="bakery", seed=1)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        await repository.create(pool, spec, key, "digest")
    assert await pool.fetchval("SELECT count(*) FROM scenarios WHERE idempotency_key = $1", key) == 0


async def test_rows_wait_while_the_broker_is_unreachable_and_go_out_once_it_is_back(
    app: FastAPI, client: httpx.AsyncClient, pool: asyncpg.Pool, infra: Infra,
    wait_sent: Any, requested_records: Any,
) -> None:  # fmt: skip
    relay: Relay = app.state.relay
    await relay.stop()
    dead = Relay(pool, infra.dsn, f"127.0.0.1:{free_port()}", poll_interval=0.05)
    await dead.start()
    try:
        resp = await client.post("/api/scenarios", json={"business_type": "hotel", "seed": 1})
        assert resp.status_code == 202, "accepting a request must not need the broker"
        sid = resp.json()["scenario_id"]
        await asyncio.sleep(1.0)
        assert dead._task is not None and not dead._task.done(), "the relay gave up instead of retrying"
        assert await pool.fetchval("SELECT sent_at FROM outbox WHERE key = $1", sid.encode()) is None
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["broker"].startswith("unreachable")
    finally:
        await dead.stop()
        await relay.start()
    assert await wait_sent(sid), "the row was not published once the broker was back"
    assert len(await requested_records(sid)) == 1


async def test_notify_wakes_the_relay_well_before_its_poll(app: FastAPI, client: httpx.AsyncClient) -> None:
    relay: Relay = app.state.relay
    relay.poll_interval = 30.0  # only NOTIFY can publish within the deadline below
    await asyncio.sleep(0.6)  # let the relay enter its long wait
    try:
        before = relay.published
        await client.post("/api/scenarios", json={"business_type": "tech_startup"})
        for _ in range(200):
            if relay.published > before:
                break
            await asyncio.sleep(0.005)
        assert relay.published > before, "NOTIFY did not wake the relay"
    finally:
        relay.poll_interval = 0.5


async def test_payload_is_the_contract_json(pool: asyncpg.Pool, client: httpx.AsyncClient) -> None:
    sid = (await client.post("/api/scenarios", json={"business_type": "bakery", "name": "Crumb"})).json()[
        "scenario_id"
    ]
    payload = await pool.fetchval("SELECT payload FROM outbox WHERE key = $1", sid.encode())
    assert json.loads(payload)["spec"]["name"] == "Crumb"


async def test_the_relay_rings_the_doorbell_of_the_topics_it_sent_to(
    pool: asyncpg.Pool, client: httpx.AsyncClient, wait_sent: Any
) -> None:
    heard: list[str] = []
    listener = Listener(DOORBELL, heard.append)
    await listener.start(pool)
    try:
        sid = (await client.post("/api/scenarios", json={"business_type": "hotel", "seed": 9})).json()[
            "scenario_id"
        ]
        assert await wait_sent(sid)
        for _ in range(200):
            if "scenario.requested" in heard:
                break
            await asyncio.sleep(0.01)
        assert "scenario.requested" in heard, "the planner's doorbell was not rung"
    finally:
        await listener.stop()
