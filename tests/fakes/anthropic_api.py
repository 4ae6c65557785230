"""A local fake of the Anthropic Messages API, good enough for the real `anthropic` SDK.

`FakeAnthropic()` serves POST /v1/messages on a free loopback port from a background thread.
It answers a forced tool call with an input valid for the tool's input_schema, reports prompt
cache writes and reads per cached prefix, streams (SSE) when asked, and injects latency and
faults on demand. A call's *kind* is the name of the tool it forces (`tool_choice`), e.g.
`write_month`; `contains` narrows a fault to requests whose user text contains a string.

Run it alone for the benchmark: `python -m tests.fakes.anthropic_api --port 8765 --latency
write_company=0.66 --latency write_year=0.17 --latency write_month=0.30`.
"""

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.schema_fill import fill

ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}
Responder = Callable[[str, dict[str, Any], dict[str, Any]], dict[str, Any] | None]


@dataclass
class Fault:
    """One injected misbehaviour: `times` more requests of `kind` (None: all) get it; -1 = forever."""

    what: str  # "status", "truncate" or "invalid_json"
    kind: str | None
    times: int
    status: int = 529
    retry_after: float | None = None
    contains: str | None = None


@dataclass
class Stats:
    """What the fake saw."""

    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    streamed: int = 0
    errors: int = 0
    cache_writes: int = 0
    cache_reads: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)  # kind, usage, stop_reason, input


class FakeAnthropic:
    """The fake server; use as a context manager, then point the SDK at `.base_url`."""

    def __init__(
        self,
        latency: dict[str, float] | float = 0.0,
        seed: int = 0,
        responder: Responder | None = None,
        port: int = 0,
        reject_forced: bool = False,
    ) -> None:
        self.latency = latency
        self.responder = responder
        self.reject_forced = reject_forced  # like models that refuse tool_choice {"type": "tool"}
        self.stats = Stats()
        self._faults: list[Fault] = []
        self._cache: set[str] = set()
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])

    # -- faults ---------------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        times: int = 1,
        kind: str | None = None,
        retry_after: float | None = None,
        contains: str | None = None,
    ) -> None:
        """Answer the next `times` matching requests with HTTP `status` (-1: forever)."""
        self._add(Fault("status", kind, times, status, retry_after, contains))

    def truncate(self, times: int = 1, kind: str | None = None, contains: str | None = None) -> None:
        """Stop the next matching answers at max_tokens, with a cut-off tool input."""
        self._add(Fault("truncate", kind, times, contains=contains))

    def invalid_json(self, times: int = 1, kind: str | None = None, contains: str | None = None) -> None:
        """Answer with tool input that is not valid JSON for the schema."""
        self._add(Fault("invalid_json", kind, times, contains=contains))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, kind: str, text: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times == 0 or (fault.kind is not None and fault.kind != kind):
                    continue
                if fault.contains is not None and fault.contains not in text:
                    continue
                if fault.times > 0:
                    fault.times -= 1
                return fault
        return None

    # -- server ---------------------------------------------------------------------------------

    def __enter__(self) -> "FakeAnthropic":
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
        # without it every answer waits out the client's delayed ACK (about 40 ms).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", backlog=2048)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake Messages API did not start")
            time.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- the endpoint ---------------------------------------------------------------------------

    async def _messages(self, request: Request) -> Response:
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            return await self._answer(request)
        finally:
            stats.in_flight -= 1

    async def _answer(self, request: Request) -> Response:
        # The latency is the answer's time from the request's arrival: the fake's own work (reading
        # the body, making the answer) is done within it, not added on top.
        loop = asyncio.get_running_loop()
        arrived = loop.time()
        response, latency = await self._respond(request)
        await asyncio.sleep(max(0.0, arrived + latency - loop.time()))
        return response

    async def _respond(self, request: Request) -> tuple[Response, float]:
        """The response, and the latency to answer it with (none for a request refused at once)."""
        if not (request.headers.get("x-api-key") or request.headers.get("authorization")):
            return _error(401, "x-api-key header is required"), 0.0
        try:
            body = await request.json()
            tool = _called_tool(body)
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, f"bad request: {exc}"), 0.0
        kind = tool["name"]
        self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
        self.stats.bodies.append(body)
        if self.reject_forced and (body.get("tool_choice") or {}).get("type") in ("tool", "any"):
            self.stats.errors += 1
            return _error(400, "tool_choice forcing tool use is not supported by this model"), 0.0
        latency = self._latency(kind)
        fault = self._take_fault(kind, _user_text(body))
        if fault is not None and fault.what == "status":
            self.stats.errors += 1
            headers = {} if fault.retry_after is None else {"retry-after": f"{fault.retry_after:g}"}
            return _error(fault.status, "injected fault", headers), latency
        tool_input = self._tool_input(kind, tool, body)
        stop_reason = "tool_use"
        raw = json.dumps(tool_input)
        if fault is not None and fault.what == "truncate":
            stop_reason, raw = "max_tokens", raw[: max(1, len(raw) // 3)]
            tool_input = _partial(tool_input)
        elif fault is not None and fault.what == "invalid_json":
            raw = raw[: max(1, len(raw) // 2)] + '",,}'
            first = next(iter(tool_input), "value")
            tool_input = {first: raw}
        usage = self._usage(body, raw)
        self.stats.answers.append(
            {"kind": kind, "usage": usage, "stop_reason": stop_reason, "input": tool_input}
        )
        message = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [
                {
                    "type": "tool_use",
                    "id": f"toolu_{uuid.uuid4().hex[:24]}",
                    "name": kind,
                    "input": tool_input,
                }
            ],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        if body.get("stream"):
            self.stats.streamed += 1
            return StreamingResponse(_sse(message, raw), media_type="text/event-stream"), latency
        return JSONResponse(message), latency

    def _latency(self, kind: str) -> float:
        if isinstance(self.latency, dict):
            return float(self.latency.get(kind, self.latency.get("*", 0.0)))
        return float(self.latency)

    def _tool_input(self, kind: str, tool: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if self.responder is not None:
            custom = self.responder(kind, tool["input_schema"], body)
            if custom is not None:
                return custom
        with self._lock:
            value = fill(tool["input_schema"], self._rng)
        return value if isinstance(value, dict) else {"value": value}

    def _usage(self, body: dict[str, Any], raw: str) -> dict[str, int]:
        """Token counts from text length, with prompt caching by prefix as the real API does it."""
        segments = _segments(body)
        total = sum(_tokens(text) for text, _ in segments)
        digest, upto, breakpoints = hashlib.sha256(body["model"].encode()), 0, []
        for text, cached in segments:
            digest.update(text.encode())
            upto += _tokens(text)
            if cached:
                breakpoints.append((digest.hexdigest(), upto))
        read = write = 0
        with self._lock:
            hits = [n for key, n in breakpoints if key in self._cache]
            read = max(hits, default=0)
            if breakpoints:
                write = breakpoints[-1][1] - read
            self._cache.update(key for key, _ in breakpoints)
        self.stats.cache_reads += read > 0
        self.stats.cache_writes += write > 0
        return {
            "input_tokens": total - read - write,
            "output_tokens": _tokens(raw),
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
        }


def _called_tool(body: dict[str, Any]) -> dict[str, Any]:
    """The tool the answer calls: the forced one, or under "auto" the one the user text names last."""
    for key in ("model", "max_tokens", "messages"):
        if key not in body:
            raise KeyError(f"{key} is required")
    tools = {t["name"]: t for t in body.get("tools", [])}
    choice = body.get("tool_choice") or {"type": "auto"}
    if choice.get("type") == "tool":
        name = choice.get("name")
    else:
        text = _user_text(body)
        named = sorted((text.rfind(n), n) for n in tools if n in text)
        name = named[-1][1] if named else next(iter(tools), None)
    if name not in tools:
        raise ValueError("this fake answers tool calls only: give tools (and tool_choice)")
    return dict(tools[name])


def _segments(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """The prompt in cache order (tools, system, messages), each part with its cache breakpoint."""
    parts: list[tuple[str, bool]] = []
    tools = body.get("tools", [])
    for tool in tools:
        parts.append((json.dumps(tool, sort_keys=True), "cache_control" in tool))
    system = body.get("system", [])
    if isinstance(system, str):
        system = [{"type": "text", "text": system}]
    for block in system:
        parts.append((block.get("text", ""), "cache_control" in block))
    for message in body["messages"]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks:
            parts.append((json.dumps(block, sort_keys=True), "cache_control" in block))
    return parts


def _user_text(body: dict[str, Any]) -> str:
    texts = []
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, str):
            texts.append(content)
        else:
            texts.extend(str(b.get("text", b.get("content", ""))) for b in content)
    return "\n".join(texts)


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _partial(value: dict[str, Any]) -> dict[str, Any]:
    keys = list(value)
    return {k: value[k] for k in keys[: max(0, len(keys) // 2)]}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    kind = ERRORS.get(status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": f"{message} ({status})"}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _sse(message: dict[str, Any], raw: str) -> AsyncIterator[bytes]:
    block = message["content"][0]
    usage = message["usage"]
    start = dict(message, content=[], stop_reason=None, usage=dict(usage, output_tokens=1))
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": dict(block, input={})},
        ),
    ]
    for i in range(0, len(raw), 64):
        delta = {"type": "input_json_delta", "partial_json": raw[i : i + 64]}
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    for name, data in events:
        yield f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
        await asyncio.sleep(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", action="append", default=[], help="KIND=SECONDS, or * for the default")
    args = parser.parse_args()
    latency = {k: float(v) for k, v in (item.split("=", 1) for item in args.latency)}
    with FakeAnthropic(latency=latency, port=args.port) as fake:
        print(f"fake Messages API at {fake.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
