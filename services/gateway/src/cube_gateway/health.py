"""Liveness, readiness (broker and database checked for real) and Prometheus metrics."""

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from cube_runtime.presence import pipeline_status

router = APIRouter(include_in_schema=False)

REQUESTS = Counter("cube_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("cube_http_request_seconds", "HTTP request latency", ["method", "route"])
OUTBOX = Gauge("cube_outbox_unsent", "Outbox rows not yet published")
SCENARIOS = Gauge("cube_scenarios", "Scenarios by status", ["status"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(request.app.state.pool.fetchval("SELECT 1"), 1.0)
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready", with the reason shown
        checks["database"] = f"unreachable: {exc.__class__.__name__}"
    relay = request.app.state.relay
    try:
        if relay.producer is None:
            raise ConnectionError("no broker connection yet")
        await asyncio.wait_for(relay.producer.client.fetch_all_metadata(), 1.0)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"unreachable: {exc.__class__.__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(request: Request) -> PlainTextResponse:
    pool = request.app.state.pool
    try:
        OUTBOX.set(await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
        for row in await pool.fetch("SELECT status, count(*) AS n FROM scenario_status GROUP BY status"):
            SCENARIOS.labels(row["status"]).set(row["n"])
    except Exception:  # metrics still answer while the database is away
        pass
    return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)


def observe(method: str, route: str, status: int, started: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(time.perf_counter() - started)


@router.get("/api/pipeline", include_in_schema=True, tags=["health"])
async def pipeline(request: Request) -> dict[str, object]:
    """Live pipeline processes whose consumers hold partitions, per service."""
    services = await pipeline_status(request.app.state.pool)
    return {"ready": all(n > 0 for n in services.values()), "services": services}
