"""The gateway on the real database and broker, through its ASGI interface."""

from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import httpx
import pytest

pytestmark = pytest.mark.connected


async def test_idempotency_key_without_a_seed_still_replays(client: httpx.AsyncClient) -> None:
    # The default seed is random per call, so the key must match on what the client sent.
    key = str(uuid4())
    first = await client.post(
        "/api/scenarios", json={"business_type": "bakery"}, headers={"Idempotency-Key": key}
    )
    again = await client.post(
        "/api/scenarios", json={"business_type": "bakery"}, headers={"Idempotency-Key": key}
    )
    assert first.json()["scenario_id"] == again.json()["scenario_id"]
    assert first.json()["seed"] == again.json()["seed"]


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
        ({"business_type": "bakery", "params": {"zzz": 1}}, "zzz"),
        ({"business_type": "bakery", "name": ""}, "name"),
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

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 4096

    chunked = await client.post(
        "/api/scenarios", content=chunks(), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413, "a body without Content-Length must be capped too"
    nan = await client.post(
        "/api/scenarios",
        content=b'{"business_type": "bakery", "params": {"growth": NaN}}',
        headers={"content-type": "application/json"},
    )
    assert nan.status_code == 422 and "finite" in nan.json()["detail"]
    nul = await client.post(
        "/api/scenarios", json={"business_type": "bakery", "params": {"currency": "\u0000"}}
    )
    assert nul.status_code == 422
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
