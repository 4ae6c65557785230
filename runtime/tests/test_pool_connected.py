"""The services' pool hands a released connection on as it is (no reset round trip), which is
safe because nothing leaves session state behind."""

import asyncio

import asyncpg
import pytest

from cube_runtime import db
from cube_runtime.listen import Listener
from cube_runtime.testing import Infra

pytestmark = pytest.mark.connected


async def test_a_connection_back_from_a_listener_listens_to_nothing(infra: Infra) -> None:
    pool = await db.create_pool(infra.dsn, min_size=1, max_size=1)
    try:
        heard: list[str] = []
        listener = Listener("cube_test_channel", heard.append)
        await listener.start(pool)
        other = await asyncpg.connect(infra.dsn)  # the pool's one connection is the listener's
        try:
            await other.execute("SELECT pg_notify('cube_test_channel', 'hello')")
        finally:
            await other.close()
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.01)
        assert heard == ["hello"]
        await listener.stop()
        async with pool.acquire() as conn:  # the listener's connection again: the pool has one
            assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
            async with conn.transaction():
                await conn.execute("SELECT 1")
    finally:
        await pool.close()


async def test_an_open_transaction_is_rolled_back_on_release(infra: Infra) -> None:
    pool = await db.create_pool(infra.dsn, min_size=1, max_size=1)
    try:
        conn = await pool.acquire()
        await conn.execute("BEGIN")
        await conn.execute("CREATE TEMP TABLE left_open (x int)")
        await pool.release(conn)
        async with pool.acquire() as again:
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
    finally:
        await pool.close()
