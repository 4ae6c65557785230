"""Topics and migrations against the real broker and database."""

import asyncio

import asyncpg
import pytest

from cube_contracts.topics import ALL_TOPICS
from cube_runtime import db, kafka
from cube_runtime.testing import Infra

pytestmark = pytest.mark.connected


async def test_topics_have_their_partitions_and_creation_is_idempotent(infra: Infra) -> None:
    assert await kafka.ensure_topics(infra.bootstrap) == []  # the fixture already created them
    found = await kafka.topic_partitions(infra.bootstrap)
    for spec in ALL_TOPICS:
        assert found[spec.name] == spec.partitions, spec.name


async def test_migrations_run_once_from_several_processes_at_once(infra: Infra) -> None:
    results = await asyncio.gather(*(db.migrate(infra.dsn) for _ in range(4)))
    assert all(r == [] for r in results)  # all applied by the session fixture, none twice
    conn = await asyncpg.connect(infra.dsn)
    try:
        names = [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")]
    finally:
        await conn.close()
    assert names == [name for name, _ in db.migration_files()]


async def test_unreachable_database_is_a_one_line_error() -> None:
    from cube_runtime.embedded import free_port
    from cube_runtime.settings import ConfigError

    with pytest.raises(ConfigError, match="^DATABASE_URL: cannot connect"):
        await db.migrate(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")


async def test_unreachable_broker_is_a_one_line_error() -> None:
    from cube_runtime.embedded import free_port
    from cube_runtime.settings import ConfigError

    with pytest.raises(ConfigError, match="^KAFKA_BOOTSTRAP_SERVERS: cannot reach"):
        await kafka.ensure_topics(f"127.0.0.1:{free_port()}", timeout=3)
