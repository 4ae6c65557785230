"""PostgreSQL wiring: pools, and SQL migrations applied once under an advisory lock."""

import json
import logging
from importlib import resources
from typing import Any

import asyncpg
import orjson

from cube_runtime.settings import ConfigError

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process that migrates.
_MIGRATION_LOCK = 0x637562655F6D6967


def _jsonb_encode(value: Any) -> bytes:
    # Binary jsonb is a version byte and the text; binary is what COPY speaks. orjson because
    # every business event's attributes pass through here twice.
    return b"\x01" + orjson.dumps(value, default=str)


def _jsonb_decode(data: bytes) -> Any:
    return orjson.loads(data[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_encode, decoder=_jsonb_decode, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "json", encoder=lambda v: json.dumps(v, default=str), decoder=json.loads, schema="pg_catalog"
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A released connection is handed on as it is: no code here leaves session state behind
    (no SET, no held advisory lock or cursor; a Listener unlistens before it releases), and
    asyncpg rolls back an open transaction itself. asyncpg's default reset costs a round trip
    (UNLISTEN *, RESET ALL, ...) on every release, that is on every query made from the pool."""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose json/jsonb columns read and write Python objects."""
    try:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session,
            timeout=10, command_timeout=60,
        )  # fmt: skip
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise ConfigError(
            f"DATABASE_URL: cannot connect to PostgreSQL ({exc.__class__.__name__}: {exc})"
        ) from None
    assert pool is not None
    return pool


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) of every migration, in order."""
    folder = resources.files("cube_runtime") / "migrations"
    files = sorted((p for p in folder.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    return [(p.name, p.read_text()) for p in files]


async def migrate(dsn: str) -> list[str]:
    """Apply the migrations not yet recorded; safe to run from several processes at once."""
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise ConfigError(
            f"DATABASE_URL: cannot connect to PostgreSQL ({exc.__class__.__name__}: {exc})"
        ) from None
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for name, sql in migration_files():
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            applied.append(name)
            log.info("migration applied", extra={"migration": name})
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
        await conn.close()
    return applied


async def mark_new(conn: asyncpg.Connection, consumer: str, event_ids: list[Any]) -> set[Any]:
    """`mark_processed` for many events at once: the ids `consumer` had not applied yet."""
    rows = await conn.fetch(
        "INSERT INTO processed_events (consumer, event_id) SELECT $1, unnest($2::uuid[])"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        event_ids,
    )
    return {r["event_id"] for r in rows}


async def mark_processed(conn: asyncpg.Connection, consumer: str, event_id: Any) -> bool:
    """Record that `consumer` applied `event_id`; False if it already had (a redelivery)."""
    row = await conn.fetchval(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        consumer,
        event_id,
    )
    return row is not None
