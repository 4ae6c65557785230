"""Build the claude engine: one per process, since it owns the SDK client and the in-flight limit."""

from dataclasses import replace

import anthropic
from pydantic import SecretStr

from cube_engine.claude.client import LlmClient, RetryPolicy
from cube_engine.claude.config import DEFAULT_MODEL, MISSING_KEY, ClaudeSettings
from cube_engine.claude.engine import ClaudeEngine, NumbersEngine


def make_claude_engine(
    api_key: str | SecretStr | None,
    base_url: str | None = None,
    model: str | None = None,
    *,
    simulated: NumbersEngine | None = None,
    concurrency: int = 5,
    timeout: float | None = None,
    max_attempts: int | None = None,
    max_repairs: int | None = None,
    stream: bool = False,
    policy: RetryPolicy | None = None,
    max_named: int = 40,
) -> ClaudeEngine:
    """A ClaudeEngine over `simulated` (default: SimulatedEngine(latency="0")); ValueError without a key.

    `concurrency` caps this process's calls in flight; set it to the global limit divided by the
    processes that call the API (ClaudeSettings.process_limit does that). `timeout`, `max_attempts`
    and `max_repairs` override the fields of `policy` (default RetryPolicy())."""
    key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    if not key or not key.strip():
        raise ValueError(MISSING_KEY)
    if simulated is None:
        from cube_engine import SimulatedEngine  # type: ignore[attr-defined]  # late: cube_engine may import us

        simulated = SimulatedEngine(latency="0")
    policy = policy or RetryPolicy()
    policy = replace(
        policy,
        timeout=policy.timeout if timeout is None else timeout,
        max_attempts=policy.max_attempts if max_attempts is None else max_attempts,
        max_repairs=policy.max_repairs if max_repairs is None else max_repairs,
    )
    # Retries are ours (backoff with jitter, retry-after, a process-wide pause on 429), so the SDK's are off.
    client = anthropic.AsyncAnthropic(
        api_key=key, base_url=base_url or None, max_retries=0, timeout=policy.timeout
    )
    llm = LlmClient(client, model or DEFAULT_MODEL, limit=concurrency, policy=policy, stream=stream)
    return ClaudeEngine(llm, simulated, max_named=max_named)


def claude_engine_from(settings: ClaudeSettings, simulated: NumbersEngine | None = None) -> ClaudeEngine:
    """make_claude_engine from the environment's settings."""
    return make_claude_engine(
        settings.anthropic_api_key,
        settings.anthropic_base_url,
        settings.cube_claude_model,
        simulated=simulated,
        concurrency=settings.process_limit(),
        timeout=settings.cube_claude_timeout,
        max_attempts=settings.cube_claude_max_attempts,
        max_repairs=settings.cube_claude_max_repairs,
        stream=settings.cube_claude_stream,
    )
