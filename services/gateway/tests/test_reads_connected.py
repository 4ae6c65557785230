"""What the gateway reads: the status projection, the plan, the validation, the scenario list."""

from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

pytestmark = pytest.mark.connected

VIEW_FIELDS = {
    "scenario_id", "business_type", "engine", "seed", "status", "progress", "current_stage", "stage_message",
    "months_done", "months_total", "error_message", "created_at", "updated_at", "completed_at", "event_count",
    "validation", "eta_seconds", "usage", "months", "start_month", "scale", "name", "timings",
}  # fmt: skip


async def _create(client: httpx.AsyncClient, **body: Any) -> str:
    resp = await client.post("/api/scenarios", json={"business_type": "bakery", **body})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["scenario_id"])


async def test_view_has_every_field_of_the_api(client: httpx.AsyncClient) -> None:
    sid = await _create(client, seed=5, months=6, start_month="2024-03", scale=2.0, name="Crumb & Co")
    view = (await client.get(f"/api/scenarios/{sid}")).json()
    assert VIEW_FIELDS <= set(view)
    assert (view["seed"], view["months"], view["months_total"], view["start_month"]) == (5, 6, 6, "2024-03")
    assert (view["engine"], view["scale"], view["name"], view["eta_seconds"]) == (
        "simulated", 2.0, "Crumb & Co", None,
    )  # fmt: skip


async def test_status_follows_the_projection_and_the_legacy_stage_names(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    sid = await _create(client, months=12)
    await pool.execute(
        "UPDATE scenario_status SET status = 'processing', stage = 'stage3_months', progress = 62,"
        " months_done = 5, timings = $2 WHERE scenario_id = $1",
        UUID(sid),
        {"requested": "2025-01-01T00:00:00+00:00", "months_started": "2025-01-01T00:00:01+00:00"},
    )
    view = (await client.get(f"/api/scenarios/{sid}")).json()
    assert (view["status"], view["current_stage"], view["progress"], view["months_done"]) == (
        "processing", "stage3_months", 62, 5,
    )  # fmt: skip
    assert view["eta_seconds"] is not None and view["eta_seconds"] > 0
    legacy = (await client.get(f"/api/status/{sid}")).json()
    assert legacy == {
        "scenarioId": sid, "status": "processing", "progress": 62, "currentStage": "stage3_month_6",
        "errorMessage": None,
    }  # fmt: skip


async def test_master_data_is_404_until_planned(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    sid = await _create(client)
    early = await client.get(f"/api/scenarios/{sid}/master-data")
    assert early.status_code == 404 and "not ready" in early.json()["detail"]
    company = {"id": "c1", "name": "Crumb", "business_type": "bakery", "currency": "EUR"}
    await pool.execute(
        "INSERT INTO master_data (scenario_id, data) VALUES ($1, $2)", UUID(sid), {"company": company}
    )
    assert (await client.get(f"/api/scenarios/{sid}/master-data")).json()["company"] == company


async def test_validation_is_404_until_validated_then_lists_every_check(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    sid = await _create(client)
    assert (await client.get(f"/api/scenarios/{sid}/validation")).status_code == 404
    checks = [
        {"name": "cash_identity", "passed": True, "severity": "error", "details": "ok"},
        {"name": "refund_rate", "passed": False, "severity": "warning", "details": "high"},
    ]
    await pool.execute(
        "INSERT INTO validations (scenario_id, state, passed, summary, checks, kpis)"
        " VALUES ($1, 'done', true, '2 checks, 1 warning', $2, $3)",
        UUID(sid), checks, {"revenue": 1000},
    )  # fmt: skip
    report = (await client.get(f"/api/scenarios/{sid}/validation")).json()
    assert [c["name"] for c in report["checks"]] == ["cash_identity", "refund_rate"]
    assert report["passed"] is True and report["kpis"] == {"revenue": 1000}
    summary = (await client.get(f"/api/scenarios/{sid}")).json()["validation"]
    assert summary == {
        "passed": True,
        "summary": "2 checks, 1 warning",
        "checks": 2,
        "failed": 0,
        "warnings": 1,
    }


async def test_list_is_newest_first_and_pages_without_repeats(client: httpx.AsyncClient) -> None:
    mine = [await _create(client, seed=i) for i in range(5)]
    first = (await client.get("/api/scenarios", params={"limit": 3})).json()
    assert [i["scenario_id"] for i in first["items"]] == mine[::-1][:3]
    assert {"scenario_id", "business_type", "status", "progress", "current_stage"} <= set(first["items"][0])
    second = (await client.get("/api/scenarios", params={"limit": 3, "cursor": first["next_cursor"]})).json()
    assert [i["scenario_id"] for i in second["items"]][:2] == mine[::-1][3:]
