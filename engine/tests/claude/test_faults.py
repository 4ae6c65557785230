"""Injected faults end in a completed step or a clear failure, never a hang or a silent gap."""

import asyncio
import time
from typing import Any
from uuid import uuid4

import pytest

from cube_engine.claude import MISSING_KEY, LlmCallFailed, make_claude_engine
from cube_engine.claude.merge import STORY_KEY
from tests.fakes.anthropic_api import FakeAnthropic


async def _plan(engine: Any, spec: Any) -> tuple[Any, Any, list[dict[str, Any]]]:
    sid = uuid4()
    master = await engine.master_data(sid, spec)
    return sid, master, await engine.plan_months(sid, spec, master)


@pytest.mark.parametrize("status", [529, 500, 429])
async def test_a_burst_of_overload_or_server_errors_is_retried_to_success(
    fake: FakeAnthropic, engine_for, make_spec, status: int
) -> None:
    fake.fail(status, times=3, kind="write_company")
    engine = engine_for(fake)
    sid = uuid4()
    master = await engine.master_data(sid, make_spec())
    assert master.company.description
    usage = engine.usage(sid, "master_data")
    assert (usage.calls, fake.stats.errors) == (4, 3)
    assert usage.output_tokens > 0


async def test_retry_after_is_honoured(fake: FakeAnthropic, engine_for, make_spec) -> None:
    fake.fail(429, times=1, kind="write_company", retry_after=0.4)
    engine = engine_for(fake)
    started = time.monotonic()
    await engine.master_data(uuid4(), make_spec())
    assert time.monotonic() - started >= 0.4


async def test_a_truncated_answer_is_asked_again_with_room(
    fake: FakeAnthropic, engine_for, make_spec
) -> None:
    fake.truncate(times=1, kind="write_company")
    engine = engine_for(fake)
    sid = uuid4()
    master = await engine.master_data(sid, make_spec())
    first, second = fake.stats.bodies
    assert second["max_tokens"] == 2 * first["max_tokens"]
    assert [a["stop_reason"] for a in fake.stats.answers] == ["max_tokens", "tool_use"]
    assert master.company.description
    assert engine.usage(sid, "master_data").calls == 2


async def test_invalid_json_once_is_repaired(fake: FakeAnthropic, engine_for, make_spec) -> None:
    engine = engine_for(fake)
    spec = make_spec(months=4)
    fake.invalid_json(times=1, kind="write_year")
    sid, _, plans = await _plan(engine, spec)
    assert len(plans) == 4 and all(STORY_KEY in p for p in plans)
    repair = fake.stats.bodies[-1]["messages"]
    assert [m["role"] for m in repair] == ["user", "assistant", "user"]
    assert repair[2]["content"][0]["is_error"] is True
    assert engine.usage(sid, "trends").calls == 2


async def test_a_month_whose_calls_always_fail_fails_clearly(
    fake: FakeAnthropic, engine_for, make_spec
) -> None:
    engine = engine_for(fake)
    spec = make_spec(months=4)
    sid, master, plans = await _plan(engine, spec)
    fake.fail(529, times=-1, kind="write_month", contains="Write month 3 of")
    async with asyncio.timeout(10):
        results = await asyncio.gather(
            *(engine.render_month(sid, spec, master, m, plans[m - 1]) for m in range(1, 5)),
            return_exceptions=True,
        )
    failed = results[2]
    assert isinstance(failed, LlmCallFailed)
    assert str(failed) == "month 3: Messages API overloaded (529) after 4 attempts"
    assert all(isinstance(r, list) and r for i, r in enumerate(results) if i != 2)
    assert engine.usage(sid, "month:3").calls == 4


async def test_a_refused_call_fails_at_once(fake: FakeAnthropic, engine_for, make_spec) -> None:
    fake.fail(400, times=1)
    engine = engine_for(fake)
    with pytest.raises(LlmCallFailed, match=r"^master data: Messages API refused the call: 400"):
        await engine.master_data(uuid4(), make_spec())
    assert fake.stats.requests == 1


async def test_a_slow_call_times_out(fake: FakeAnthropic, engine_for, make_spec) -> None:
    from dataclasses import replace

    from cube_engine.claude.client import RetryPolicy

    fake.latency = {"write_company": 1.0}
    engine = engine_for(fake, policy=replace(RetryPolicy(), timeout=0.2, max_attempts=2, backoff_base=0.01))
    started = time.monotonic()
    with pytest.raises(
        LlmCallFailed, match=r"^master data: Messages API timed out after 0.2 s after 2 attempts$"
    ):
        await engine.master_data(uuid4(), make_spec())
    assert time.monotonic() - started < 1.5


async def test_streamed_answers_and_a_broken_stream_are_handled(
    fake: FakeAnthropic, engine_for, make_spec
) -> None:
    engine = engine_for(fake, stream=True)
    spec = make_spec(months=2)
    fake.invalid_json(times=1, kind="write_month")
    sid, master, plans = await _plan(engine, spec)
    for month in (1, 2):
        events = await engine.render_month(sid, spec, master, month, plans[month - 1])
        assert any(e.event_type == "narrative" for e in events)
    assert fake.stats.streamed == fake.stats.requests == 5


def test_no_api_key_is_refused_with_a_reason() -> None:
    for key in (None, "", "  "):
        with pytest.raises(ValueError, match="ANTHROPIC_API_KEY is not set"):
            make_claude_engine(key)
    assert MISSING_KEY == "ANTHROPIC_API_KEY is not set: the claude engine needs it"


async def test_a_model_that_refuses_forced_tool_use_is_asked_with_auto(engine_for, make_spec) -> None:
    with FakeAnthropic(reject_forced=True) as fake:
        engine = engine_for(fake)
        spec = make_spec(months=2)
        sid, master, plans = await _plan(engine, spec)
        events = await engine.render_month(sid, spec, master, 2, plans[1])
    assert any(e.event_type == "narrative" for e in events)
    choices = [b.get("tool_choice", {}).get("type") for b in fake.stats.bodies]
    assert choices == ["tool", "auto", "auto", "auto"]
    assert engine.usage(sid, "master_data").calls == 2


async def test_numbers_that_are_not_in_the_ledger_are_repaired_or_cut(engine_for, make_spec) -> None:
    answers = iter(
        [
            "Founded in 2019, it sold 98765 loaves. Regulars love it.",  # 98765 is no ledger value
            "It sold 4321 loaves. Regulars love it.",  # still wrong: the sentence is cut
            "It sold 1111 loaves. Regulars love it.",
        ]
    )

    def responder(kind: str, schema: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
        if kind != "write_company":
            return None
        from tests.fakes.schema_fill import fill

        value = fill(schema, __import__("random").Random(1))
        value["company"]["story"] = next(answers)
        return value

    with FakeAnthropic(responder=responder) as fake:
        engine = engine_for(fake)
        master = await engine.master_data(uuid4(), make_spec())
    assert fake.stats.by_kind["write_company"] == 3
    assert master.company.description == "Regulars love it."
    repair = fake.stats.bodies[1]["messages"][-1]["content"][0]["content"]
    assert "98765" in repair and "not in FACTS" in repair and "2019" not in repair


def test_settings_split_the_global_limit_over_the_processes() -> None:
    from cube_engine.claude import ClaudeSettings, claude_engine_from

    settings = ClaudeSettings(
        anthropic_api_key="k",
        cube_claude_global_concurrency=16,
        cube_claude_processes=3,
        cube_claude_timeout=9,
    )
    assert settings.process_limit() == 5
    engine = claude_engine_from(settings)
    assert (engine.llm.limit, engine.llm.policy.timeout, engine.llm.model) == (5, 9, "claude-sonnet-4-6")
    assert engine.llm.client.max_retries == 0  # retries are the engine's own
    assert ClaudeSettings(cube_claude_concurrency=7).process_limit() == 7
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY is not set"):
        claude_engine_from(ClaudeSettings())
