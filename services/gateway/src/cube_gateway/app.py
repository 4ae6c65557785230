"""Composition root of the gateway."""

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cube_gateway import api, health
from cube_gateway.outbox import Relay
from cube_gateway.settings import GatewaySettings
from cube_runtime import db, kafka

log = logging.getLogger("gateway")


def _reason(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        if err.get("type") == "json_invalid":
            parts.append(f"body is not valid JSON ({err.get('ctx', {}).get('error', 'decode error')})")
            continue
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def create_app(settings: GatewaySettings) -> FastAPI:
    """The HTTP API on the database and broker of `settings`."""
    dsn, bootstrap = settings.require_database(), settings.require_broker()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await db.migrate(dsn)
        await kafka.ensure_topics(bootstrap)
        app.state.pool = await db.create_pool(dsn, max_size=20)
        app.state.relay = Relay(app.state.pool, dsn, bootstrap)
        await app.state.relay.start()
        try:
            yield
        finally:
            await app.state.relay.stop()
            await app.state.pool.close()

    app = FastAPI(
        title="Telling Cube",
        version="1.0.0",
        description="A realistic, consistent year of a business, generated in the background.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(api.router)
    app.include_router(health.router)

    @app.middleware("http")
    async def limits_and_metrics(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.cube_max_body_bytes):
            return JSONResponse({"detail": f"request body over {settings.cube_max_body_bytes} bytes"}, 413)
        response = await call_next(request)
        route = request.scope.get("route")
        health.observe(request.method, getattr(route, "path", "unmatched"), response.status_code, started)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _reason(exc)}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc.detail)}, exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(asyncpg.PostgresError)
    @app.exception_handler(OSError)
    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable", extra={"error": str(exc)})
        return JSONResponse(
            {"detail": "the database is unavailable; try again shortly"}, 503, {"Retry-After": "2"}
        )

    return app
