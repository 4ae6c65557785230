"""The reconciler: finds scenarios whose stage has stopped moving and moves them on.

Every pass: the topics are created again if the broker lost them (the embedded broker keeps
them in memory only); then, under an advisory lock so one replica works at a time, each open
scenario without progress for the stage deadline is re-driven from what the database holds
(redrive.remaining: planning, the missing months, the validation, or the announcement of its
outcome). A scenario re-driven `limit` times without moving fails with a reason. A scenario whose
messages still wait in the outbox (broker away) is left alone: the relay delivers them.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from cube_contracts import SCENARIO_LIFECYCLE, ScenarioFailed, derived_id, scenario_key
from cube_runtime import kafka
from cube_runtime import outbox as outbox
from cube_runtime import redrive as redrive
from cube_runtime.settings import ConfigError

log = logging.getLogger("progress.reconciler")
PRODUCER = "reconciler"
LOCK = 0x43554245  # pg advisory lock key of the reconciler


@dataclass
class Pass:
    """What one pass did."""

    redriven: dict[UUID, list[str]] = field(default_factory=dict)
    failed: list[UUID] = field(default_factory=list)
    waiting: int = 0
    topics_created: list[str] = field(default_factory=list)


class Reconciler:
    def __init__(
        self, pool: asyncpg.Pool, bootstrap: str, interval: float, deadline: float, limit: int
    ) -> None:
        self.pool, self.bootstrap = pool, bootstrap
        self.interval, self.deadline, self.limit = interval, deadline, limit
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reconciler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                done = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database or broker away: try again next pass
                log.warning("reconciler pass failed", extra={"error": repr(exc)})
                continue
            if done.redriven or done.failed or done.topics_created:
                log.info(
                    "reconciler pass",
                    extra={
                        "redriven": {str(k): v for k, v in done.redriven.items()},
                        "failed": [str(s) for s in done.failed],
                        "topics_created": done.topics_created,
                    },
                )

    async def run_once(self) -> Pass:
        done = Pass()
        with contextlib.suppress(ConfigError):
            done.topics_created = await kafka.ensure_topics(self.bootstrap, timeout=5)
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", LOCK):
                return done
            rows = await conn.fetch(
                "SELECT scenario_id, stage, redrives FROM scenario_status"
                " WHERE status IN ('queued', 'processing') AND updated_at < now() - make_interval(secs => $1)"
                " ORDER BY updated_at LIMIT 200 FOR UPDATE SKIP LOCKED",
                self.deadline,
            )
            for row in rows:
                sid = row["scenario_id"]
                if await conn.fetchval(
                    "SELECT 1 FROM outbox WHERE sent_at IS NULL AND headers->>'scenario_id' = $1 LIMIT 1",
                    str(sid),
                ):
                    done.waiting += 1
                    continue
                if row["redrives"] >= self.limit:
                    await self._fail(conn, sid, row["stage"], row["redrives"])
                    done.failed.append(sid)
                    continue
                snap = await redrive.snapshot(conn, sid)
                if snap is None:  # a status row without its scenario: nothing to drive
                    continue
                done.redriven[sid] = await redrive.enqueue(
                    conn, await redrive.remaining(conn, snap, PRODUCER)
                )
                await conn.execute(
                    "UPDATE scenario_status SET redrives = redrives + 1, updated_at = now() WHERE scenario_id = $1",
                    sid,
                )
        return done

    async def _fail(self, conn: asyncpg.Connection, sid: UUID, stage: str, redrives: int) -> None:
        reason = (
            f"the {stage} stage made no progress for {self.deadline:.0f} s, and {redrives} re-drive(s) did not"
            f" move it; check that every service runs (GET /api/pipeline), then POST /api/scenarios/{sid}/retry"
        )
        attempt = await conn.fetchval("SELECT attempt FROM scenario_status WHERE scenario_id = $1", sid)
        await conn.execute(
            "UPDATE scenario_status SET status = 'failed', error_message = $2, stage_message = $3,"
            " completed_at = now(), updated_at = now() WHERE scenario_id = $1",
            sid,
            reason,
            f"Failed: {reason}",
        )
        failed = ScenarioFailed(
            event_id=derived_id(sid, "ScenarioFailed", "deadline", attempt), scenario_id=sid, producer=PRODUCER,
            stage=stage, reason=reason,
        )  # fmt: skip
        await outbox.add(conn, SCENARIO_LIFECYCLE, scenario_key(sid), failed)
        log.warning("scenario failed by the reconciler", extra={"scenario_id": str(sid), "reason": reason})
