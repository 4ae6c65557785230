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
        print(f"\nconnected tier backend: {found.backend} (broker {found.bootstrap})")
        yield found


@pytest.fixture(scope="session")
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the session database."""
    p = await db.create_pool(infra.dsn)
    yield p
    await p.close()


def pytest_report_header(config: pytest.Config) -> str:
    return "tiers: unit (in memory) and connected (real broker + PostgreSQL, marker `connected`)"
