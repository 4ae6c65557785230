"""Every error as JSON with a readable `detail`; client input never produces a 500."""

import logging

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("gateway")


def reason(exc: RequestValidationError) -> str:
    """The first few validation errors as one line a person can act on."""
    parts = []
    for err in exc.errors()[:5]:
        if err.get("type") == "json_invalid":
            parts.append(f"body is not valid JSON ({err.get('ctx', {}).get('error', 'decode error')})")
            continue
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": reason(exc)}, 422)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        # FastAPI's "error parsing the body" for a body that is not even text (e.g. not UTF-8):
        # invalid JSON like any other, so the same 422 with the reason.
        return JSONResponse({"detail": f"body is not valid JSON ({exc.__cause__})"}, 422)
    return JSONResponse({"detail": str(exc.detail)}, exc.status_code, headers=exc.headers)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", extra={"error": repr(exc), "path": request.url.path})
    return JSONResponse(
        {"detail": "the database is unavailable; try again shortly"}, 503, {"Retry-After": "2"}
    )


async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
    # Class 22 (data exception): a value that passed validation but PostgreSQL refuses, e.g. a NUL byte.
    return JSONResponse({"detail": f"a value cannot be stored: {exc}"}, 422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug on our side: logged with its traceback, answered as JSON rather than a bare text page.
    log.error("unexpected error", exc_info=exc, extra={"path": request.url.path})
    return JSONResponse({"detail": f"internal error ({exc.__class__.__name__}); it has been logged"}, 500)


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
    # OSError covers refused connections and TimeoutError (a pool that cannot hand out a connection).
    app.add_exception_handler(asyncpg.DataError, _unstorable)
    for kind in (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        app.add_exception_handler(kind, _unavailable)
    app.add_exception_handler(Exception, _unexpected)
