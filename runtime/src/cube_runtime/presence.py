"""Service presence: each process records when its consumers got partitions and beats every few
seconds, so the launcher and the API can tell when the pipeline can really take work."""

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any

import asyncpg
from aiokafka import ConsumerRebalanceListener

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 5.0
PIPELINE = ("planner", "month-worker", "validator", "progress")


class Presence(ConsumerRebalanceListener):  # type: ignore[misc]
    """Rebalance listener and heartbeat of one service process."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.instance = f"{service}@{socket.gethostname()}:{os.getpid()}"
        self.pool: asyncpg.Pool | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        await pool.execute(
            "INSERT INTO service_instances (instance, service) VALUES ($1, $2)"
            " ON CONFLICT (instance) DO UPDATE SET started_at = now(), assigned_at = NULL, heartbeat_at = now()",
            self.instance,
            self.service,
        )
        self._task = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await self.pool.execute("DELETE FROM service_instances WHERE instance = $1", self.instance)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                assert self.pool is not None
                await self.pool.execute(
                    "UPDATE service_instances SET heartbeat_at = now() WHERE instance = $1", self.instance
                )
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("heartbeat failed", extra={"error": str(exc)})

    async def _assigned(self, count: int) -> None:
        if self.pool is not None:
            await self.pool.execute(
                "UPDATE service_instances SET assigned_at = now(), partitions = $2 WHERE instance = $1",
                self.instance,
                count,
            )

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        task = asyncio.create_task(self._assigned(len(assigned)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


async def pipeline_status(pool: asyncpg.Pool, stale_after: float = 3 * HEARTBEAT_SECONDS) -> dict[str, int]:
    """Live instances with partitions, per pipeline service."""
    rows = await pool.fetch(
        "SELECT service, count(*) AS n FROM service_instances WHERE assigned_at IS NOT NULL"
        " AND heartbeat_at > now() - make_interval(secs => $1) GROUP BY service",
        stale_after,
    )
    found = {r["service"]: int(r["n"]) for r in rows}
    return {service: found.get(service, 0) for service in PIPELINE}
