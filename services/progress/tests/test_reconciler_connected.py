"""The reconciler on the real database: a stuck scenario gets exactly its missing work queued,
and one that does not move after the limit fails with a reason."""

import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from cube_contracts import BusinessType, ScenarioSpec
from cube_progress.reconciler import Reconciler
from cube_runtime.kafka import month_partition
from cube_runtime.presence import PIPELINE
from cube_runtime.testing import Infra

pytestmark = pytest.mark.connected


async def _scenario(
    pool: asyncpg.Pool,
    *,
    months: int = 3,
    planned: bool = True,
    done: tuple[int, ...] = (),
    age_s: int = 600,
    moved_s: int | None = None,
    stage: str = "stage3_months",
) -> UUID:
    sid = uuid4()
    spec = ScenarioSpec(business_type=BusinessType.BAKERY, seed=7, months=months)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO scenarios (scenario_id, business_type, engine, seed, months, spec)"
            " VALUES ($1, 'bakery', 'simulated', 7, $2, $3)",
            sid,
            months,
            json.loads(spec.model_dump_json()),
        )
        await conn.execute(
            "INSERT INTO scenario_status (scenario_id, status, stage, progress, months_total, updated_at, moved_at)"
            " VALUES ($1, 'processing', $4, 50, $2, now() - make_interval(secs => $3),"
            " now() - make_interval(secs => $5))",
            sid,
            months,
            age_s,
            stage,
            moved_s if moved_s is not None else age_s,
        )
        if planned:
            await conn.execute("INSERT INTO master_data (scenario_id, data) VALUES ($1, '{}')", sid)
            for m in range(1, months + 1):
                await conn.execute(
                    "INSERT INTO month_plans (scenario_id, month, plan) VALUES ($1, $2, $3)", sid, m, {"m": m}
                )
        for m in done:
            await conn.execute(
                "INSERT INTO month_results (scenario_id, month, months_total, status, event_count, content_hash)"
                " VALUES ($1, $2, $3, 'completed', 10, 'h')",
                sid,
                m,
                months,
            )
    return sid


async def _queued(pool: asyncpg.Pool, sid: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT topic, partition, payload FROM outbox WHERE headers->>'scenario_id' = $1 ORDER BY id",
        str(sid),
    )
    return [{"topic": r["topic"], "partition": r["partition"], **json.loads(r["payload"])} for r in rows]


@pytest.fixture(autouse=True)
async def live_services(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """A live, assigned process of every pipeline service, as their heartbeats record them."""
    names = [f"test-{uuid4()}" for _ in PIPELINE]
    for name, service in zip(names, PIPELINE, strict=True):
        await pool.execute(
            "INSERT INTO service_instances (instance, service, assigned_at, partitions) VALUES ($1, $2, now(), 1)",
            name,
            service,
        )
    yield
    await pool.execute("DELETE FROM service_instances WHERE instance = ANY($1::text[])", names)


def _reconciler(pool: asyncpg.Pool, infra: Infra, limit: int = 2) -> Reconciler:
    return Reconciler(pool, infra.bootstrap, interval=1, deadline=60, limit=limit)


async def test_missing_months_are_requested_again_on_their_partitions(
    pool: asyncpg.Pool, infra: Infra
) -> None:
    sid = await _scenario(pool, done=(1, 3))
    result = await _reconciler(pool, infra).run_once()
    assert result.redriven[sid] == ["month 2"]
    [queued] = await _queued(pool, sid)
    assert (queued["topic"], queued["event_type"], queued["month"], queued["plan"]) == (
        "month.requested",
        "MonthRequested",
        2,
        {"m": 2},
    )
    assert queued["partition"] == month_partition(sid, 2)
    # Re-driven just now: the deadline starts again, so the next pass leaves it alone.
    again = await _reconciler(pool, infra).run_once()
    assert sid not in again.redriven
    assert await pool.fetchval("SELECT redrives FROM scenario_status WHERE scenario_id = $1", sid) == 1


async def test_recent_and_waiting_scenarios_are_left_alone(pool: asyncpg.Pool, infra: Infra) -> None:
    fresh = await _scenario(pool, age_s=1)
    waiting = await _scenario(pool, done=(1,))
    await pool.execute(
        "INSERT INTO outbox (topic, key, payload, headers) VALUES ('scenario.requested', 'k', '{}', $1)",
        {"scenario_id": str(waiting)},
    )
    result = await _reconciler(pool, infra).run_once()
    assert fresh not in result.redriven and waiting not in result.redriven
    assert result.waiting >= 1
    await pool.execute("DELETE FROM outbox WHERE headers->>'scenario_id' = $1", str(waiting))


async def test_unplanned_scenario_is_planned_again(pool: asyncpg.Pool, infra: Infra) -> None:
    sid = await _scenario(pool, planned=False)
    result = await _reconciler(pool, infra).run_once()
    assert result.redriven[sid] == ["plan"]
    [queued] = await _queued(pool, sid)
    assert (queued["topic"], queued["event_type"], queued["attempt"]) == (
        "scenario.requested",
        "ScenarioRequested",
        1,
    )


async def test_all_months_in_without_validation_asks_for_it(pool: asyncpg.Pool, infra: Infra) -> None:
    sid = await _scenario(pool, months=2, done=(1, 2))
    result = await _reconciler(pool, infra).run_once()
    assert result.redriven[sid] == ["validate"]
    [queued] = await _queued(pool, sid)
    assert (queued["topic"], queued["event_type"], queued["month"]) == (
        "month.completed",
        "MonthCompleted",
        2,
    )


async def test_published_scenario_is_announced(pool: asyncpg.Pool, infra: Infra) -> None:
    sid = await _scenario(pool, months=1, done=(1,))
    await pool.execute(
        "INSERT INTO validations (scenario_id, state, passed, summary, checks)"
        " VALUES ($1, 'published', true, 'ok', $2)",
        sid,
        [{"name": "a", "passed": True}, {"name": "b", "passed": False}],
    )
    result = await _reconciler(pool, infra).run_once()
    assert result.redriven[sid] == ["announce completion"]
    [queued] = await _queued(pool, sid)
    assert (queued["event_type"], queued["event_count"], queued["warnings"]) == ("ScenarioCompleted", 0, 1)


async def test_a_scenario_that_never_moves_fails_after_the_limit(pool: asyncpg.Pool, infra: Infra) -> None:
    sid = await _scenario(pool, done=(1,))
    reconciler = _reconciler(pool, infra, limit=1)
    assert sid in (await reconciler.run_once()).redriven
    # The re-drive went out (a relay marks it sent) and nothing came of it for the deadline again.
    await pool.execute("UPDATE outbox SET sent_at = now() WHERE headers->>'scenario_id' = $1", str(sid))
    await pool.execute(
        "UPDATE scenario_status SET updated_at = now() - interval '10 minutes' WHERE scenario_id = $1", sid
    )
    result = await reconciler.run_once()
    assert result.failed == [sid]
    row = await pool.fetchrow("SELECT status, error_message FROM scenario_status WHERE scenario_id = $1", sid)
    assert row["status"] == "failed"
    assert "stage3_months stage made no progress" in row["error_message"] and "/retry" in row["error_message"]
    assert [q["event_type"] for q in await _queued(pool, sid)][-1] == "ScenarioFailed"


async def test_without_a_live_worker_it_waits_then_fails_saying_so(pool: asyncpg.Pool, infra: Infra) -> None:
    await pool.execute("DELETE FROM service_instances WHERE service = 'month-worker'")
    waiting = await _scenario(pool, done=(1,), age_s=120, moved_s=120)
    absent = await _scenario(pool, done=(1,), age_s=900, moved_s=900)
    result = await _reconciler(pool, infra).run_once()
    assert waiting not in result.redriven and waiting not in result.failed
    assert absent in result.failed
    reason = await pool.fetchval("SELECT error_message FROM scenario_status WHERE scenario_id = $1", absent)
    assert reason.startswith("no month-worker process has taken work for") and str(absent) in reason


async def test_a_scenario_queued_behind_moving_ones_waits_its_turn(pool: asyncpg.Pool, infra: Infra) -> None:
    queued = await _scenario(pool, done=(1,), age_s=70, moved_s=70)
    moving = await _scenario(pool, done=(1, 2), age_s=1, moved_s=1)
    result = await _reconciler(pool, infra).run_once()
    assert queued not in result.redriven and queued not in result.failed
    # Past three deadlines without moving, it is re-driven even while others move.
    await pool.execute(
        "UPDATE scenario_status SET moved_at = now() - interval '200 seconds' WHERE scenario_id = $1", queued
    )
    assert (await _reconciler(pool, infra).run_once()).redriven[queued] == ["month 2", "month 3"]
    assert moving not in result.redriven
