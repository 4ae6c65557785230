"""The gateway on the real database and broker, through its ASGI interface."""

import asyncio
import json
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import httpx
import pytest

from cube_gateway.app import create_app
from cube_gateway.settings import GatewaySettings
from cube_runtime.testing import Infra
from tests.helpers import read_topic

pytestmark = pytest.mark.connected


@pytest.fixture(scope="module")
async def client(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(GatewaySettings(kafka_bootstrap_servers=infra.bootstrap, database_url=infra.dsn))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
            c.app = app  # type: ignore[attr-defined]
            yield c


async def test_post_writes_scenario_status_and_outbox_then_publishes(
    client: httpx.AsyncClient, pool: asyncpg.Pool, infra: Infra
) -> None:
    resp = await client.post("/api/scenarios", json={"business_type": "bakery", "seed": 7, "months": 3})
    assert resp.status_code == 202
    body = resp.json()
    sid = body["scenario_id"]
    assert resp.headers["location"] == f"/api/scenarios/{sid}"
    assert (body["status"], body["progress"], body["current_stage"]) == ("queued", 0, "queued")
    for _ in range(100):
        sent = await pool.fetchval(
            "SELECT sent_at FROM outbox WHERE key = $1 AND topic = 'scenario.requested'", sid.encode()
        )
        if sent:
            break
        await asyncio.sleep(0.02)
    assert sent is not None, "the relay did not publish the outbox row"
    records = await read_topic(infra.bootstrap, "scenario.requested", key=sid.encode())
    assert len(records) == 1
    event = json.loads(records[0].value)
    assert event["event_type"] == "ScenarioRequested" and event["spec"]["seed"] == 7


async def test_outbox_rows_wait_for_the_broker_and_are_never_lost(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    relay = client.app.state.relay  # type: ignore[attr-defined]
    await relay.stop()  # the broker is "down": nothing relays
    try:
        resp = await client.post("/api/scenarios", json={"business_type": "hotel", "seed": 1})
        assert resp.status_code == 202
        sid = resp.json()["scenario_id"]
        await asyncio.sleep(0.2)
        assert await pool.fetchval("SELECT sent_at FROM outbox WHERE key = $1", sid.encode()) is None
    finally:
        relay.producer = None
        relay._listener = None
        await relay.start()
    for _ in range(100):
        if await pool.fetchval("SELECT sent_at FROM outbox WHERE key = $1", sid.encode()):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the row was not published once the relay was back")


async def test_idempotency_key(client: httpx.AsyncClient) -> None:
    key = str(uuid4())
    body = {"business_type": "tech_startup", "seed": 3}
    first = await client.post("/api/scenarios", json=body, headers={"Idempotency-Key": key})
    again = await client.post("/api/scenarios", json=body, headers={"Idempotency-Key": key})
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["scenario_id"] == again.json()["scenario_id"]
    other = await client.post("/api/scenarios", json={**body, "seed": 4}, headers={"Idempotency-Key": key})
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"business_type": "zoo"}, "business_type"),
        ({"business_type": "bakery", "months": 0}, "months"),
        ({"business_type": "bakery", "months": 25}, "months"),
        ({"business_type": "bakery", "colour": "red"}, "colour"),
        ({"business_type": "bakery", "start_month": "2025-13"}, "start_month"),
        ({"business_type": "bakery", "scale": 1000}, "scale"),
        ({"business_type": "bakery", "seed": -1}, "seed"),
        ({"business_type": "bakery", "engine": "claude"}, "ANTHROPIC_API_KEY"),
        ({}, "business_type"),
        ([1, 2], "body"),
    ],
)
async def test_invalid_requests_get_a_readable_4xx(
    client: httpx.AsyncClient, body: object, needle: str
) -> None:
    resp = await client.post("/api/scenarios", json=body)
    assert resp.status_code == 422
    assert needle in resp.json()["detail"]


async def test_malformed_input_never_gives_500(client: httpx.AsyncClient) -> None:
    not_json = await client.post(
        "/api/scenarios", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422 and "not valid JSON" in not_json.json()["detail"]
    huge = await client.post(
        "/api/scenarios", content=b"x" * 200_000, headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    assert (await client.get("/api/scenarios/not-a-uuid")).status_code == 422
    assert (await client.get(f"/api/scenarios/{uuid4()}")).status_code == 404
    assert (await client.get(f"/api/status/{uuid4()}")).status_code == 404
    assert (await client.get("/api/scenarios", params={"cursor": "garbage"})).status_code == 422
    assert (await client.get("/api/scenarios", params={"limit": 0})).status_code == 422


async def test_events_pagination_walks_every_row_once(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    sid = (
        await client.post("/api/scenarios", json={"business_type": "bakery", "seed": 9, "months": 2})
    ).json()["scenario_id"]
    rows = [
        (
            uuid4(),
            sid,
            m,
            i,
            f"2025-0{m}-0{1 + i % 9}T10:00:00+00:00",
            "sale" if i % 3 else "refund",
            i + 0.5,
            "EUR",
        )
        for m in (1, 2)
        for i in range(25)
    ]
    await pool.executemany(
        "INSERT INTO business_events (event_id, scenario_id, month, seq, occurred_at, event_type, amount, currency)"
        " VALUES ($1, $2::uuid, $3, $4, $5::text::timestamptz, $6, $7, $8)",
        rows,
    )
    seen, cursor = [], None
    while True:
        params = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"/api/scenarios/{sid}/events", params=params)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [(e["month"], e["event_id"]) for e in seen] == [(r[2], str(r[0])) for r in rows]
    refunds = (
        await client.get(f"/api/scenarios/{sid}/events", params={"event_type": "refund", "month": 2})
    ).json()
    assert len(refunds["items"]) == 9 and all(e["event_type"] == "refund" for e in refunds["items"])
    assert refunds["items"][0]["amount"] == "0.50"
    bad = await client.get(f"/api/scenarios/{sid}/events", params={"cursor": "x"})
    assert bad.status_code == 422


async def test_legacy_endpoints_keep_the_first_versions_names(client: httpx.AsyncClient) -> None:
    started = await client.post("/api/generate", json={"scenarioType": "hotel"})
    assert started.status_code == 202
    body = started.json()
    assert set(body) == {"scenarioId", "status"} and body["status"] == "queued"
    status = (await client.get(f"/api/status/{body['scenarioId']}")).json()
    assert set(status) == {"scenarioId", "status", "progress", "currentStage", "errorMessage"}
    assert (status["currentStage"], status["progress"]) == ("queued", 0)
    assert (await client.post("/api/generate", json={"scenarioType": "zoo"})).status_code == 422


async def test_health_ready_metrics_and_page(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"ready": True, "database": "ok", "broker": "ok"}
    metrics = (await client.get("/metrics")).text
    assert "cube_http_requests_total" in metrics and "cube_outbox_unsent" in metrics
    page = await client.get("/")
    assert page.status_code == 200 and "Telling Cube" in page.text
    assert (
        await client.get("/api/scenarios/00000000-0000-0000-0000-000000000000/master-data")
    ).status_code == 404
