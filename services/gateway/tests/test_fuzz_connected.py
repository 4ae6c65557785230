"""Every operation of the OpenAPI document, fuzzed: no 5xx, and every answer is what the document says.

The gateway runs under uvicorn on the session's real database and broker; schemathesis sends
generated requests (valid and invalid ones) to every operation of its /openapi.json.
"""

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cube_gateway.app import create_app
from cube_gateway.settings import GatewaySettings
from cube_runtime.embedded import free_port
from cube_runtime.redrive import OPEN
from cube_runtime.testing import Infra

pytestmark = pytest.mark.connected

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


async def _created_since(dsn: str, since: float) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT scenario_id FROM scenarios JOIN scenario_status USING (scenario_id)"
            f" WHERE status IN {OPEN!r} AND scenarios.created_at >= to_timestamp($1)",
            since,
        )
        return [str(r["scenario_id"]) for r in rows]
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def gateway_url(infra: Infra) -> Iterator[str]:
    """The gateway served over HTTP from a thread of its own (its own event loop)."""
    app = create_app(GatewaySettings(kafka_bootstrap_servers=infra.bootstrap, database_url=infra.dsn))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fuzzed-gateway", daemon=True)
    started = time.time()
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        # No pipeline drains what the fuzzer created: cancel it, so that it does not count as
        # work in flight for the rest of the session.
        for sid in asyncio.run(_created_since(infra.dsn, started - 1)):
            requests.post(f"{url}/api/scenarios/{sid}/cancel", timeout=10)
        server.should_exit = True
        thread.join(15)


def _document() -> dict[str, Any]:
    # The operations are known at collection time, before the session's infrastructure is up
    # (schemathesis' lazy fixture loader does not run on this pytest); building the document
    # connects to nothing, and test_the_served_document_is_the_fuzzed_one ties it to the server.
    app = create_app(
        GatewaySettings(kafka_bootstrap_servers="unused:9092", database_url="postgresql://unused")
    )
    return app.openapi()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)
BOUNDED = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def test_the_served_document_is_the_fuzzed_one(gateway_url: str) -> None:
    served = requests.get(f"{gateway_url}/openapi.json", timeout=10)
    assert served.status_code == 200 and served.json() == DOCUMENT


@schema.parametrize()
@BOUNDED
def test_every_operation(case: schemathesis.Case, gateway_url: str) -> None:
    case.call_and_validate(base_url=gateway_url, checks=CHECKS, timeout=10)


# Random ids mostly meet 404s; these walk one real scenario through every operation that takes an
# id, in an order that reaches their success answers too (cancel 202, retry 409, delete 204).
LIFECYCLE = [
    ("GET", "/api/scenarios/{scenario_id}", 200),
    ("GET", "/api/scenarios/{scenario_id}/master-data", 404),
    ("GET", "/api/scenarios/{scenario_id}/events", 200),
    ("GET", "/api/scenarios/{scenario_id}/validation", 404),
    ("GET", "/api/status/{scenarioId}", 200),
    ("POST", "/api/scenarios/{scenario_id}/retry", 409),
    ("POST", "/api/scenarios/{scenario_id}/cancel", 202),
    ("POST", "/api/scenarios/{scenario_id}/cancel", 202),
    ("DELETE", "/api/scenarios/{scenario_id}", 204),
    ("GET", "/api/scenarios/{scenario_id}", 404),
]


def test_a_real_scenario_through_every_operation(gateway_url: str) -> None:
    created = requests.post(f"{gateway_url}/api/scenarios", json={"business_type": "hotel"}, timeout=10)
    assert created.status_code == 202, created.text
    sid = created.json()["scenario_id"]
    for method, path, expected in LIFECYCLE:
        name = "scenarioId" if "{scenarioId}" in path else "scenario_id"
        case = schema[path][method].Case(path_parameters={name: sid})
        response = case.call_and_validate(base_url=gateway_url, checks=CHECKS, timeout=10)
        assert response.status_code == expected, (method, path, response.text)
