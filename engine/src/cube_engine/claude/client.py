"""Messages API calls done properly: bounded concurrency, retries with backoff, a bounded repair of
truncated or invalid answers, and the tokens of every attempt accounted."""

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anthropic
from anthropic.types import Message
from pydantic import BaseModel, ValidationError

from cube_contracts.model import LlmUsage
from cube_engine.claude.config import LlmCallFailed
from cube_engine.claude.pricing import cost_usd

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
RETRYABLE = {408, 409, 429}  # and every 5xx, 529 (overloaded) included
# Models that answer a forced tool_choice with 400; they get tool_choice "auto" and a prompt that
# names the tool. Any other model that refuses it is switched over on its first 400.
NO_FORCED_TOOL = ("claude-sonnet-5-5", "claude-opus-5-5", "claude-fable-5-1")


@dataclass(frozen=True)
class ToolCall(Generic[T]):
    """One structured-output request: the model must call `tool`; its input must validate as `schema`."""

    label: str  # names the call in errors, e.g. "month 3"
    tool: str
    tools: list[dict[str, Any]]  # the same list in every call of a scenario keeps the cached prefix
    schema: type[T]
    system: list[dict[str, Any]]
    user: str
    max_tokens: int
    check: Callable[[T], list[str]] | None = None  # problems worth a repair; the merge fixes what is left


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a call tries before it fails its step."""

    max_attempts: int = 5
    max_repairs: int = 2
    timeout: float = 120.0
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    max_retry_after: float = 60.0
    max_tokens_cap: int = 16_000


@dataclass
class _Attempts:
    calls: int = 0
    last: str = ""
    usage: list[LlmUsage] = field(default_factory=list)


class LlmClient:
    """One per process: it owns the SDK client, the in-flight limit and the rate-limit pause."""

    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        model: str,
        limit: int,
        policy: RetryPolicy | None = None,
        stream: bool = False,
    ) -> None:
        self.client = client
        self.model = model
        self.limit = limit
        self.policy = policy or RetryPolicy()
        self.stream = stream
        self._slots = asyncio.Semaphore(limit)
        self.forced_tool = not model.startswith(NO_FORCED_TOOL)
        self._resume_at = 0.0  # after a 429 every call of the process waits, not just the unlucky one

    async def call(self, req: ToolCall[T]) -> tuple[T, LlmUsage]:
        """The validated tool input and the usage of every attempt; raises LlmCallFailed."""
        started = time.monotonic()
        spent = LlmUsage()
        messages: list[dict[str, Any]] = [{"role": "user", "content": req.user}]
        max_tokens, problem = req.max_tokens, ""
        rounds = self.policy.max_repairs + 1
        for round_no in range(1, rounds + 1):
            try:
                message, usage = await self._send(req, messages, max_tokens)
            except LlmCallFailed as exc:
                exc.usage = self._finish(spent + exc.usage, started)
                raise
            spent += usage
            if message is None:
                problem = "the streamed tool input was not valid JSON"
                continue
            if message.stop_reason == "max_tokens":
                # A cut-off answer is not worth repairing in place: ask again with room to finish.
                problem = f"the answer was cut off at max_tokens={max_tokens}"
                max_tokens = min(self.policy.max_tokens_cap, max_tokens * 2)
                continue
            value, problems = _read(req, message)
            if value is not None and (not problems or round_no == rounds):
                return value, self._finish(spent, started)
            problem = "; ".join(problems)
            log.info("repairing an answer", extra={"call": req.label, "problem": problem[:300]})
            messages = [*messages, *_repair_turns(req.tool, message, problem)]
        raise LlmCallFailed(
            f"{req.label}: no valid answer from the model after {rounds} tries ({problem})",
            usage=self._finish(spent, started),
        )

    def _finish(self, usage: LlmUsage, started: float) -> LlmUsage:
        latency = int((time.monotonic() - started) * 1000)
        return usage.model_copy(update={"cost_usd": cost_usd(self.model, usage), "latency_ms": latency})

    async def _send(
        self, req: ToolCall[Any], messages: list[dict[str, Any]], max_tokens: int
    ) -> tuple[Message | None, LlmUsage]:
        """One answer of the API, retrying 429/529/5xx/timeouts with backoff; None: unparsable stream."""
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "system": req.system,
            "tools": req.tools,
            "messages": messages,
            "timeout": self.policy.timeout,
        }
        tries = _Attempts()
        attempts = self.policy.max_attempts
        for attempt in range(1, attempts + 1):
            delay: float | None = None
            await self._wait_for_rate_limit()
            async with self._slots:
                tries.calls += 1
                choice = {"type": "tool", "name": req.tool} if self.forced_tool else {"type": "auto"}
                try:
                    async with asyncio.timeout(self.policy.timeout):
                        message = await self._request({**kwargs, "tool_choice": choice})
                except anthropic.BadRequestError as exc:
                    if not (self.forced_tool and "tool_choice" in exc.message):
                        raise LlmCallFailed(
                            f"{req.label}: Messages API refused the call: {_describe(exc)}",
                            usage=LlmUsage(calls=tries.calls),
                        ) from exc
                    log.warning("the model refuses forced tool use: asking with tool_choice auto")
                    self.forced_tool = False
                    tries.last, delay = _describe(exc), 0.0
                except anthropic.APIStatusError as exc:
                    if exc.status_code not in RETRYABLE and exc.status_code < 500:
                        raise LlmCallFailed(
                            f"{req.label}: Messages API refused the call: {_describe(exc)}",
                            usage=LlmUsage(calls=tries.calls),
                        ) from exc
                    tries.last = _describe(exc)
                    delay = self._retry_after(exc)
                except (anthropic.APITimeoutError, TimeoutError):
                    tries.last = f"timed out after {self.policy.timeout:g} s"
                except anthropic.APIConnectionError as exc:
                    tries.last = f"unreachable ({exc.__cause__ or exc})"
                except ValueError:
                    return None, LlmUsage(calls=tries.calls)
                else:
                    return message, _usage_of(message, tries.calls)
            log.info("retrying a call", extra={"call": req.label, "attempt": attempt, "error": tries.last})
            if attempt < attempts:
                await asyncio.sleep(delay if delay is not None else self._backoff(attempt))
        raise LlmCallFailed(
            f"{req.label}: Messages API {tries.last} after {attempts} attempts",
            usage=LlmUsage(calls=tries.calls),
        )

    async def _request(self, kwargs: dict[str, Any]) -> Message:
        if not self.stream:
            return await self.client.messages.create(**kwargs)
        async with self.client.messages.stream(**kwargs) as stream:
            return await stream.get_final_message()

    async def _wait_for_rate_limit(self) -> None:
        pause = self._resume_at - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)

    def _retry_after(self, exc: anthropic.APIStatusError) -> float | None:
        seconds = _parse_retry_after(exc.response.headers)
        if seconds is None:
            return None
        seconds = min(seconds, self.policy.max_retry_after) + random.uniform(0, 0.1 + 0.1 * seconds)
        if exc.status_code == 429:
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)
        return seconds

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def _read(req: ToolCall[T], message: Message) -> tuple[T | None, list[str]]:
    """The validated input of the requested tool, and the problems found."""
    block = next((b for b in message.content if b.type == "tool_use" and b.name == req.tool), None)
    if block is None:
        return None, [f"the answer did not call the tool {req.tool}"]
    try:
        value = req.schema.model_validate(block.input)
    except ValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()[:8]]
        return None, errors
    return value, (req.check(value) if req.check else [])


def _repair_turns(tool: str, message: Message, problem: str) -> list[dict[str, Any]]:
    """The answer as it came (thinking blocks included, as the API wants them back) and the
    problem as an error result of each tool call, asking for the whole input again."""
    content = [b.model_dump(mode="json", exclude_none=True) for b in message.content]
    for block in content:
        if block.get("type") == "tool_use" and not isinstance(block.get("input"), dict):
            block["input"] = {}
    calls = [b["id"] for b in content if b.get("type") == "tool_use"]
    feedback = (
        f"The input of {tool} was invalid: {problem}. Call {tool} again with the whole corrected input."
    )
    if not calls:
        return (
            [{"role": "assistant", "content": content}, {"role": "user", "content": feedback}]
            if content
            else []
        )
    results = [
        {"type": "tool_result", "tool_use_id": i, "is_error": True, "content": feedback} for i in calls
    ]
    return [{"role": "assistant", "content": content}, {"role": "user", "content": results}]


def _usage_of(message: Message, calls: int) -> LlmUsage:
    u = message.usage
    return LlmUsage(
        calls=calls,
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_creation_input_tokens=u.cache_creation_input_tokens or 0,
        cache_read_input_tokens=u.cache_read_input_tokens or 0,
    )


def _describe(exc: anthropic.APIStatusError) -> str:
    status = exc.status_code
    if status == 529:
        return "overloaded (529)"
    if status == 429:
        return "rate limited (429)"
    if status >= 500:
        return f"server error ({status})"
    if status in (401, 403):
        return f"authentication failed ({status}): check ANTHROPIC_API_KEY"
    return f"{status}: {exc.message}"


def _parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
