"""Body and concurrency limits and the error handlers, on a tiny app: no database, no broker."""

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from cube_gateway import errors
from cube_gateway.limits import Limits


class Body(BaseModel):
    n: int


def _app(max_body: int = 100, max_in_flight: int = 10) -> tuple[FastAPI, asyncio.Event]:
    app = FastAPI()
    gate = asyncio.Event()

    @app.post("/echo")
    async def echo(body: Body) -> Body:
        return body

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await gate.wait()
        return {"ok": True}

    @app.get("/db-down")
    async def db_down() -> None:
        raise ConnectionRefusedError("refused")

    @app.get("/db-gone")
    async def db_gone() -> None:
        raise asyncpg.InterfaceError("connection is closed")

    @app.get("/bug")
    async def bug() -> None:
        raise KeyError("oops")

    app.add_middleware(Limits, max_body=max_body, max_in_flight=max_in_flight)
    errors.install(app)
    return app, gate


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_body_limit_declared_and_streamed() -> None:
    app, _ = _app(max_body=100)
    async with _client(app) as c:
        assert (await c.post("/echo", json={"n": 1})).json() == {"n": 1}
        assert (await c.post("/echo", content=b"{" + b" " * 200 + b"}")).status_code == 413

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 50

        resp = await c.post("/echo", content=chunks(), headers={"content-type": "application/json"})
        assert resp.status_code == 413 and "100 bytes" in resp.json()["detail"]


async def test_requests_over_the_in_flight_cap_are_shed() -> None:
    app, gate = _app(max_in_flight=2)
    async with _client(app) as c:
        held = [asyncio.create_task(c.get("/slow")) for _ in range(2)]
        await asyncio.sleep(0.05)
        busy = await c.get("/slow")
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        gate.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
        assert (await c.get("/slow")).status_code == 200


async def test_errors_are_json_with_a_reason() -> None:
    app, _ = _app()
    async with _client(app) as c:
        bad = await c.post("/echo", json={"n": "x"})
        assert bad.status_code == 422 and bad.json()["detail"].startswith("n: ")
        for path in ("/db-down", "/db-gone"):
            down = await c.get(path)
            assert down.status_code == 503 and "database" in down.json()["detail"]
        bug = await c.get("/bug")
        assert bug.status_code == 500 and "KeyError" in bug.json()["detail"]
        missing = await c.get("/nowhere")
        assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}


async def test_a_body_that_is_not_text_is_a_422_like_any_invalid_json() -> None:
    # Found by the fuzzer: FastAPI answers 400 "error parsing the body" for bytes that are not UTF-8.
    app, _ = _app(max_body=1000)
    async with _client(app) as c:
        resp = await c.post(
            "/echo", content=b'{"n": "\xff\xfe"}', headers={"content-type": "application/json"}
        )
        assert resp.status_code == 422 and resp.json()["detail"].startswith("body is not valid JSON")
