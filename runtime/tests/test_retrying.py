"""Handlers wait out transient database and broker errors, and only those."""

import asyncpg
import pytest

from cube_runtime.retrying import patiently


async def test_transient_errors_are_retried_until_the_work_succeeds() -> None:
    errors = [ConnectionRefusedError(111, "refused"), asyncpg.InternalClientError("state"), None]
    calls = 0

    async def work() -> str:
        nonlocal calls
        calls += 1
        error = errors.pop(0)
        if error is not None:
            raise error
        return "done"

    assert await patiently(work, "t", patience=5, first_delay=0.01) == "done"
    assert calls == 3


async def test_other_errors_escape_at_once() -> None:
    calls = 0

    async def work() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        await patiently(work, "t", patience=5, first_delay=0.01)
    assert calls == 1


async def test_a_transient_error_that_outlasts_the_patience_escapes() -> None:
    async def work() -> None:
        raise ConnectionResetError("reset")

    with pytest.raises(ConnectionResetError):
        await patiently(work, "t", patience=0.05, first_delay=0.02)
