"""The outbox: events written with their rows in one transaction, relayed to Kafka afterwards.

An accepted request is never lost: if the broker is down, rows wait and go out once it is back.
"""

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from cube_runtime.doorbell import CHANNEL as DOORBELL
from cube_runtime.outbox import CHANNEL, add

__all__ = ["CHANNEL", "Relay", "add"]

log = logging.getLogger(__name__)


class Relay:
    """Publishes unsent outbox rows in order; woken by NOTIFY, with a slow poll as a safety net."""

    def __init__(self, pool: asyncpg.Pool, dsn: str, bootstrap: str, poll_interval: float = 0.5) -> None:
        self.pool, self.dsn, self.bootstrap = pool, dsn, bootstrap
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self.producer: AIOKafkaProducer | None = None
        self.published = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop relaying; unsent rows stay in the table for the next start (or another gateway)."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._disconnect()

    async def _disconnect(self) -> None:
        listener, producer = self._listener, self.producer
        self._listener, self.producer = None, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.close()
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        if self._listener is None or self._listener.is_closed():
            self._listener = await asyncpg.connect(self.dsn, timeout=5)
            await self._listener.add_listener(CHANNEL, self._notified)

    async def _producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap.split(","), acks="all", linger_ms=0, request_timeout_ms=5000
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()  # a failed start still holds sockets and a client task
                raise
            self.producer = producer
        return self.producer

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._listen()
                # Cleared before flushing: a NOTIFY arriving mid-flush triggers another pass at once.
                self._wake.clear()
                while await self.flush():
                    pass
                backoff = 0.1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Broker or database away (or anything else): keep the rows, reconnect, retry; never die.
                log.warning("outbox relay retrying", extra={"error": repr(exc), "backoff_s": backoff})
                await self._disconnect()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def flush(self, limit: int = 200) -> int:
        """Publish one batch of unsent rows; returns how many went out."""
        producer = await self._producer()
        async with self.pool.acquire() as conn, conn.transaction():
            # SKIP LOCKED: several gateways can relay at once without sending a row twice.
            rows = await conn.fetch(
                "SELECT id, topic, key, payload, headers, partition FROM outbox WHERE sent_at IS NULL"
                " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                limit,
            )
            if not rows:
                return 0
            futures = [
                await producer.send(
                    r["topic"], r["payload"], key=r["key"], partition=r["partition"],
                    headers=[(k, str(v).encode()) for k, v in (r["headers"] or {}).items()],
                )
                for r in rows
            ]  # fmt: skip
            await asyncio.gather(*futures)
            # Marked sent; at commit, the consumers of their topics are told to look (cube_runtime.doorbell).
            await conn.execute(
                "WITH sent AS (UPDATE outbox SET sent_at = clock_timestamp() WHERE id = ANY($1::bigint[])"
                " RETURNING topic)"
                f" SELECT pg_notify('{DOORBELL}', topic) FROM (SELECT DISTINCT topic FROM sent) AS t",
                [r["id"] for r in rows],
            )
        self.published += len(rows)
        return len(rows)

    async def pending(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
