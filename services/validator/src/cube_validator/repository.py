"""What the validator reads and writes in PostgreSQL."""

import json
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

import asyncpg

from cube_contracts import BusinessEvent, MasterData, MonthCompleted, MonthFailed, ScenarioSpec
from cube_runtime.redrive import ENDED_STATUSES, WHOLE_PLAN

if TYPE_CHECKING:
    from cube_validator.prefetch import Ledger

EVENT_COLUMNS = (
    "event_id, scenario_id, month, occurred_at, event_type, amount, currency, customer_id, product_id,"
    " room_id, room_type_id, plan_id, employee_id, supplier_id, attributes"
)


# A month's result, recorded in one statement unless the scenario has ended (as `stopped` tells
# it): whether (and how) it ended, and how many of its months are completed with this one. A
# completed month is never turned back into a failed one.
RECORD_MONTH = f"""
WITH ended AS (
    SELECT CASE WHEN s.scenario_id IS NULL THEN 'deleted'
                WHEN st.status IN ({", ".join(f"'{s}'" for s in ENDED_STATUSES)}) THEN st.status END AS status
    FROM (SELECT $1::uuid AS scenario_id) q
    LEFT JOIN scenarios s USING (scenario_id)
    LEFT JOIN scenario_status st USING (scenario_id)
), recorded AS (
    INSERT INTO month_results (scenario_id, month, months_total, status, event_count, content_hash, reason)
    SELECT $1, $2, $3::int, $4::text, $5::int, $6::text, $7::text WHERE (SELECT status FROM ended) IS NULL
    ON CONFLICT (scenario_id, month) DO UPDATE SET
        status = EXCLUDED.status, event_count = EXCLUDED.event_count,
        content_hash = EXCLUDED.content_hash, reason = EXCLUDED.reason, updated_at = now()
    WHERE month_results.status <> 'completed' OR EXCLUDED.status = 'completed'
    RETURNING status
)
SELECT (SELECT status FROM ended) AS ended,
    (SELECT count(*) FROM month_results WHERE scenario_id = $1 AND month <> $2 AND status = 'completed')
    + CASE WHEN EXISTS (SELECT 1 FROM recorded)
           THEN (SELECT count(*) FROM recorded WHERE status = 'completed')
           ELSE (SELECT count(*) FROM month_results
                 WHERE scenario_id = $1 AND month = $2 AND status = 'completed') END AS completed
"""


class Recorded(NamedTuple):
    ended: str | None  # 'cancelled', 'failed', 'completed' or 'deleted': nothing was recorded
    completed: int  # months of the scenario completed, this one included


async def record_month(pool: asyncpg.Pool, event: MonthCompleted | MonthFailed) -> Recorded:
    """Record a month's result, unless its scenario has ended (see RECORD_MONTH)."""
    values: tuple[str, int | None, str | None, str | None]
    if isinstance(event, MonthCompleted):
        values = ("completed", event.event_count, event.content_hash, None)
    else:
        values = ("failed", None, None, event.reason)
    row = await pool.fetchrow(RECORD_MONTH, event.scenario_id, event.month, event.months_total, *values)
    assert row is not None
    return Recorded(row["ended"], int(row["completed"]))


# The scenario's one validation, claimed; with the scenario's attempt (1, and one more for each
# retry), which the ids of its outcome include. A claim left `running` or `validated` (checked,
# not yet published) by a crash is taken again: month results of one scenario share a
# partition, so no other run can be in progress.
CLAIM = """
WITH claimed AS (
    INSERT INTO validations (scenario_id, state) VALUES ($1, 'running')
    ON CONFLICT (scenario_id) DO UPDATE SET started_at = now()
    WHERE validations.state IN ('running', 'validated')
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM claimed) AS claimed,
    coalesce((SELECT attempt FROM scenario_status WHERE scenario_id = $1), 1) AS attempt
"""


async def claim(pool: asyncpg.Pool, scenario_id: UUID) -> int | None:
    """The attempt of the scenario whose validation this call claimed; None if it was not."""
    row = await pool.fetchrow(CLAIM, scenario_id)
    assert row is not None
    return int(row["attempt"]) if row["claimed"] else None


async def finish(pool: asyncpg.Pool, scenario_id: UUID, state: str, report: Any | None = None) -> None:
    await pool.execute(
        """
        UPDATE validations SET state = $2, passed = $3, summary = $4, checks = $5, kpis = $6, finished_at = now()
        WHERE scenario_id = $1
        """,
        scenario_id,
        state,
        None if report is None else report.passed,
        None if report is None else report.summary,
        None if report is None else [c.model_dump() for c in report.checks],
        None if report is None else json.loads(json.dumps(report.kpis, default=str)),
    )


async def mark_state(pool: asyncpg.Pool, scenario_id: UUID, state: str) -> None:
    await pool.execute("UPDATE validations SET state = $2 WHERE scenario_id = $1", scenario_id, state)


class Definition(NamedTuple):
    """What a scenario's events are checked against, and which writes of it these are."""

    spec: ScenarioSpec
    master: MasterData
    plans: list[dict[str, Any]]
    version: str


# The transactions that wrote the scenario's master data and each of its complete plans.
DEFINITION_VERSION = """
SELECT (SELECT xmin::text FROM master_data WHERE scenario_id = $1) || '/'
    || coalesce((SELECT string_agg(month || ':' || xmin::text, ',' ORDER BY month)
                 FROM month_plans WHERE scenario_id = $1 AND complete), '')
"""


async def load_scenario(
    pool: asyncpg.Pool,
    scenario_id: UUID,
    ahead: "dict[int, Ledger] | None" = None,
    known: Definition | None = None,
) -> tuple[ScenarioSpec, MasterData, list[dict[str, Any]], list[BusinessEvent]]:
    """Everything the checks need: spec, master data, month plans and every event in order;
    the months' first events from `ahead` where they were read ahead, and the definition from
    `known` if it is still the stored one."""
    from cube_validator.analytics import NOT_READ_AHEAD

    have = ahead or {}
    months = sorted(have)
    query = (
        f"SELECT {EVENT_COLUMNS}{{}} FROM business_events e WHERE scenario_id = $1 AND {NOT_READ_AHEAD}"
        " ORDER BY month, seq"
    )
    args = (scenario_id, months, [have[m].size for m in months])
    rows: list[Any] = []
    if known is not None:  # one statement, one snapshot: the events, each with the definition's version
        rows = await pool.fetch(query.format(f", ({DEFINITION_VERSION}) AS version"), *args)
    if not (known is not None and rows and rows[0]["version"] == known.version):
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            if known is None or await conn.fetchval(DEFINITION_VERSION, scenario_id) != known.version:
                known = await load_definition(conn, scenario_id)
            rows = await conn.fetch(query.format(""), *args)
    assert known is not None
    by_month: dict[int, list[BusinessEvent]] = {m: list(have[m].events) for m in months}
    for r in rows:
        values = dict(r)
        values.pop("version", None)
        by_month.setdefault(r["month"], []).append(BusinessEvent.trusted(values))
    events = [e for month in sorted(by_month) for e in by_month[month]]
    return known.spec, known.master, known.plans, events


async def load_definition(conn: asyncpg.Connection, scenario_id: UUID) -> Definition:
    """The scenario's spec, master data and month plans (as many as are complete), read in one
    snapshot with their version."""
    if not conn.is_in_transaction():
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return await load_definition(conn, scenario_id)
    spec = await conn.fetchval("SELECT spec FROM scenarios WHERE scenario_id = $1", scenario_id)
    master = await conn.fetchval("SELECT data FROM master_data WHERE scenario_id = $1", scenario_id)
    plans = await conn.fetch(
        f"SELECT {WHOLE_PLAN} AS plan FROM month_plans WHERE scenario_id = $1 AND complete ORDER BY month",
        scenario_id,
    )
    version = await conn.fetchval(DEFINITION_VERSION, scenario_id)
    if spec is None or master is None:
        raise LookupError(f"scenario {scenario_id} has no stored spec or master data")
    return Definition(
        ScenarioSpec.model_validate(spec),
        MasterData.model_validate(master),
        [p["plan"] for p in plans],
        version,
    )
