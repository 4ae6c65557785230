"""Cancel, retry, delete and backpressure on the real database, the pipeline's rows written by hand."""

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from cube_gateway.backpressure import Admission, retry_after
from cube_runtime.kafka import month_partition

pytestmark = pytest.mark.connected

OWNED = ("business_events", "month_results", "validations", "month_plans", "master_data", "scenario_status")


async def _create(client: httpx.AsyncClient, **body: Any) -> UUID:
    resp = await client.post("/api/scenarios", json={"business_type": "bakery", **body})
    assert resp.status_code == 202, resp.text
    return UUID(resp.json()["scenario_id"])


async def _set_status(pool: asyncpg.Pool, sid: UUID, status: str, stage: str = "stage3_months") -> None:
    await pool.execute(
        "UPDATE scenario_status SET status = $2, stage = $3, progress = 60, updated_at = now()"
        " WHERE scenario_id = $1",
        sid,
        status,
        stage,
    )


async def _plan(pool: asyncpg.Pool, sid: UUID, months: int) -> None:
    """Master data and month plans, as the planner stores them."""
    await pool.execute(
        "INSERT INTO master_data (scenario_id, data) VALUES ($1, $2)", sid, {"company": {"id": "c1"}}
    )
    await pool.executemany(
        "INSERT INTO month_plans (scenario_id, month, plan) VALUES ($1, $2, $3)",
        [(sid, m, {"trend": m}) for m in range(1, months + 1)],
    )


async def _month_result(pool: asyncpg.Pool, sid: UUID, month: int, months: int, status: str) -> None:
    await pool.execute(
        "INSERT INTO month_results (scenario_id, month, months_total, status, event_count, content_hash, reason)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        sid, month, months, status, 10 if status == "completed" else None,
        "h" if status == "completed" else None, None if status == "completed" else "engine error",
    )  # fmt: skip


async def _outbox(pool: asyncpg.Pool, sid: UUID, topic: str) -> list[tuple[dict[str, Any], int | None]]:
    """Payloads and partitions of the scenario's outbox rows on `topic`, sent or not."""
    rows = await pool.fetch(
        "SELECT payload, partition FROM outbox WHERE topic = $1 AND convert_from(key, 'UTF8') LIKE $2"
        " ORDER BY id",
        topic,
        f"{sid}%",
    )
    return [(json.loads(r["payload"]), r["partition"]) for r in rows]


async def test_cancel_a_queued_scenario(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    sid = await _create(client)
    resp = await client.post(f"/api/scenarios/{sid}/cancel")
    assert resp.status_code == 202, resp.text
    view = resp.json()
    assert (view["scenario_id"], view["status"]) == (str(sid), "cancelled")
    assert view["error_message"] == "cancelled by the user" and view["completed_at"] is not None
    again = await client.post(f"/api/scenarios/{sid}/cancel")
    assert (again.status_code, again.json()["status"]) == (202, "cancelled")
    cancelled = await _outbox(pool, sid, "scenario.lifecycle")
    assert [p["event_type"] for p, _ in cancelled] == ["ScenarioCancelled"], "once, however often asked"


async def test_cancel_of_an_ended_or_unknown_scenario(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    for status in ("completed", "failed"):
        sid = await _create(client)
        await _set_status(pool, sid, status, status if status == "completed" else "stage3_months")
        resp = await client.post(f"/api/scenarios/{sid}/cancel")
        assert resp.status_code == 409
        assert status in resp.json()["detail"] and "only a queued or processing" in resp.json()["detail"]
        assert (await client.get(f"/api/scenarios/{sid}")).json()["status"] == status
    missing = await client.post(f"/api/scenarios/{uuid4()}/cancel")
    assert missing.status_code == 404 and "no scenario" in missing.json()["detail"]


async def test_retry_requeues_only_the_failed_month(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    sid = await _create(client, months=3)
    await _plan(pool, sid, 3)
    for month, status in ((1, "completed"), (2, "completed"), (3, "failed")):
        await _month_result(pool, sid, month, 3, status)
    await pool.execute(
        "UPDATE scenario_status SET status = 'failed', stage = 'stage3_months', months_done = 2,"
        " error_message = 'month 3 failed: engine error', completed_at = now() WHERE scenario_id = $1",
        sid,
    )
    resp = await client.post(f"/api/scenarios/{sid}/retry")
    assert resp.status_code == 202, resp.text
    view = resp.json()
    assert view["requeued"] == ["month 3"]
    assert (view["status"], view["error_message"], view["completed_at"]) == ("processing", None, None)
    assert "requeued" not in (await client.get(f"/api/scenarios/{sid}")).json()
    queued = await _outbox(pool, sid, "month.requested")
    assert len(queued) == 1
    payload, partition = queued[0]
    assert (payload["event_type"], payload["month"], payload["attempt"]) == ("MonthRequested", 3, 2)
    assert payload["plan"] == {"trend": 3}
    assert partition == month_partition(sid, 3)
    months = await pool.fetch("SELECT month, status FROM month_results WHERE scenario_id = $1", sid)
    assert sorted((r["month"], r["status"]) for r in months) == [(1, "completed"), (2, "completed")]
    assert await pool.fetchval("SELECT attempt FROM scenario_status WHERE scenario_id = $1", sid) == 2
    # Now it is processing again: a second retry has nothing to do.
    again = await client.post(f"/api/scenarios/{sid}/retry")
    assert again.status_code == 409 and "only a failed scenario" in again.json()["detail"]


async def test_retry_refuses_what_a_retry_cannot_help(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    queued = await _create(client)
    assert (await client.post(f"/api/scenarios/{queued}/retry")).status_code == 409
    bad_data = await _create(client, months=1)
    await _plan(pool, bad_data, 1)
    await _month_result(pool, bad_data, 1, 1, "completed")
    await pool.execute(
        "INSERT INTO validations (scenario_id, state, passed, summary, checks) VALUES ($1, 'failed', false,"
        " '1 check failed', $2)",
        bad_data,
        [{"name": "identity", "passed": False, "severity": "error", "details": "off by 1"}],
    )
    await _set_status(pool, bad_data, "failed", "validating")
    refused = await client.post(f"/api/scenarios/{bad_data}/retry")
    assert refused.status_code == 409 and "another seed" in refused.json()["detail"]
    assert (await client.post(f"/api/scenarios/{uuid4()}/retry")).status_code == 404


async def test_delete_removes_the_scenario_and_all_its_data(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    sid = await _create(client, months=2)
    keep = await _create(client, months=2)  # a neighbour, untouched
    await _plan(pool, sid, 2)
    await _month_result(pool, sid, 1, 2, "completed")
    await pool.execute(
        "INSERT INTO business_events (event_id, scenario_id, month, seq, occurred_at, event_type, amount)"
        " VALUES ($1, $2, 1, 0, '2025-01-02T10:00:00+00:00', 'sale', 5)",
        uuid4(),
        sid,
    )
    await pool.execute("INSERT INTO validations (scenario_id, state) VALUES ($1, 'running')", sid)
    await _set_status(pool, sid, "processing")
    for _ in range(500):  # the relay has published the request: a sent row, which goes with it
        if await pool.fetchval("SELECT sent_at FROM outbox WHERE key = $1", str(sid).encode()):
            break
        await asyncio.sleep(0.01)

    resp = await client.delete(f"/api/scenarios/{sid}")
    assert resp.status_code == 204 and resp.content == b""
    for table in (*OWNED, "scenarios"):
        count = await pool.fetchval(f"SELECT count(*) FROM {table} WHERE scenario_id = $1", sid)
        assert count == 0, table
    assert await _outbox(pool, sid, "scenario.requested") == []
    # It was running: its ScenarioCancelled survives the delete, so the services stop working on it.
    cancelled = await _outbox(pool, sid, "scenario.lifecycle")
    assert [p["event_type"] for p, _ in cancelled] == ["ScenarioCancelled"]
    assert (await client.get(f"/api/scenarios/{sid}")).status_code == 404
    assert (await client.delete(f"/api/scenarios/{sid}")).status_code == 404
    assert (await client.get(f"/api/scenarios/{keep}")).status_code == 200
    assert await _outbox(pool, keep, "scenario.requested") != []


async def test_delete_of_an_ended_scenario_cancels_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    sid = await _create(client)
    await _set_status(pool, sid, "completed", "completed")
    assert (await client.delete(f"/api/scenarios/{sid}")).status_code == 204
    assert await _outbox(pool, sid, "scenario.lifecycle") == []
    assert (await client.delete(f"/api/scenarios/{uuid4()}")).status_code == 404


@pytest.fixture
def admission(app: FastAPI) -> Iterator[None]:
    """Restores the app's admission after a test that swaps it."""
    before = app.state.admission
    yield
    app.state.admission = before


async def test_429_when_the_pipeline_is_full(
    app: FastAPI, client: httpx.AsyncClient, pool: asyncpg.Pool, admission: None
) -> None:
    failed = await _create(client, months=1)
    await _plan(pool, failed, 1)
    await _month_result(pool, failed, 1, 1, "failed")
    await _set_status(pool, failed, "failed")
    key = str(uuid4())
    first = await client.post(
        "/api/scenarios", json={"business_type": "hotel"}, headers={"Idempotency-Key": key}
    )
    assert first.status_code == 202
    # Other tests of the session leave open scenarios (no pipeline drains them): the limit sits
    # just above what is open now.
    open_now = await Admission(10**6).open_count(pool)
    app.state.admission = Admission(open_now + 2)
    a, b = await _create(client), await _create(client)

    full = await client.post("/api/scenarios", json={"business_type": "bakery"})
    assert full.status_code == 429
    assert int(full.headers["Retry-After"]) >= 1
    assert f"limit of {open_now + 2}" in full.json()["detail"]
    legacy = await client.post("/api/generate", json={"scenarioType": "bakery"})
    assert legacy.status_code == 429 and int(legacy.headers["Retry-After"]) >= 1
    retried = await client.post(f"/api/scenarios/{failed}/retry")
    assert retried.status_code == 429 and "Retry-After" in retried.headers
    # No new work in these: answered as usual.
    assert (await client.post(f"/api/scenarios/{uuid4()}/retry")).status_code == 404
    assert (await client.post(f"/api/scenarios/{a}/retry")).status_code == 409
    replay = await client.post(
        "/api/scenarios", json={"business_type": "hotel"}, headers={"Idempotency-Key": key}
    )
    assert (replay.status_code, replay.json()["scenario_id"]) == (200, first.json()["scenario_id"])

    assert (await client.post(f"/api/scenarios/{a}/cancel")).status_code == 202
    await asyncio.sleep(0.6)  # a full verdict is held for half a second
    assert (await client.post("/api/scenarios", json={"business_type": "bakery"})).status_code == 202
    assert (await client.post("/api/scenarios", json={"business_type": "bakery"})).status_code == 429
    await client.post(f"/api/scenarios/{b}/cancel")
    await asyncio.sleep(0.6)
    resp = await client.post(f"/api/scenarios/{failed}/retry")
    assert (resp.status_code, resp.json()["requeued"]) == (202, ["month 1"])


def test_retry_after_grows_with_the_backlog() -> None:
    assert retry_after(200, 200) == 1
    assert retry_after(300, 200) == 16
    assert retry_after(800, 200) == 60
    assert retry_after(5, 1) == 60
