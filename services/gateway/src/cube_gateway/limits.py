"""Request limits and per-route metrics as plain ASGI middleware (no per-request task, unlike BaseHTTPMiddleware)."""

import json
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cube_gateway import health


async def _reply(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": detail}).encode()
    base = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": base + headers})
    await send({"type": "http.response.body", "body": body})


class Limits:
    """Caps body size (declared or streamed) and requests in flight; records every response."""

    def __init__(self, app: ASGIApp, max_body: int, max_in_flight: int) -> None:
        self.app, self.max_body, self.max_in_flight = app, max_body, max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500
        try:
            status = await self._limited(scope, receive, send)
        finally:
            # The router stores the matched route in the shared scope: label by template, not raw path.
            route = getattr(scope.get("route"), "path", "unmatched")
            health.observe(scope["method"], route, status, started)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> int:
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _reply(send, 413, f"request body over {self.max_body} bytes", [])
            return 413
        if self.in_flight >= self.max_in_flight:
            # Shedding load beats queueing it: the client retries, the gateway keeps its latency.
            await _reply(send, 503, "the gateway is busy; try again shortly", [(b"retry-after", b"1")])
            return 503
        self.in_flight += 1
        state = {"status": 500, "received": 0}

        async def counted_receive() -> Message:
            # A chunked body declares no length, so count what actually arrives.
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_body:
                    # FastAPI re-raises an HTTPException from receive, so the 413 handler answers.
                    raise HTTPException(413, f"request body over {self.max_body} bytes")
            return message

        async def tracked_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        finally:
            self.in_flight -= 1
        return int(state["status"])
