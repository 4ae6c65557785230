"""Fixtures shared by every test tier."""

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from cube_runtime import db, kafka
from cube_runtime.testing import Infra, real_infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """A real broker and PostgreSQL, started once per test session, migrated, topics created."""
    with real_infra() as found:
        asyncio.run(db.migrate(found.dsn))
        asyncio.run(kafka.ensure_topics(found.bootstrap))
        BACKEND.append(f"{found.backend}: broker {found.bootstrap}, PostgreSQL {found.dsn.split('@')[-1]}")
        yield found


@pytest.fixture(scope="session")
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the session database."""
    p = await db.create_pool(infra.dsn)
    yield p
    await p.close()


BACKEND: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if BACKEND:
        terminalreporter.write_line(f"connected tier ran against {BACKEND[0]} (over TCP)")


def pytest_report_header(config: pytest.Config) -> str:
    return "tiers: unit (in memory) and connected (real broker + PostgreSQL, marker `connected`)"
