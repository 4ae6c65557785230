"""Business events in PostgreSQL: a month is replaced whole, in one transaction, with COPY."""

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg

from cube_contracts import BusinessEvent, MasterData
from cube_runtime.listen import ERRORS, Listener
from cube_runtime.redrive import LEDGER_STORED, MASTER_STORED, PLANS_STORED, WHOLE_PLAN, stopped

COLUMNS = [
    "event_id",
    "scenario_id",
    "month",
    "seq",
    "occurred_at",
    "event_type",
    "amount",
    "currency",
    "customer_id",
    "product_id",
    "room_id",
    "room_type_id",
    "plan_id",
    "employee_id",
    "supplier_id",
    "attributes",
]


def _record(seq: int, e: BusinessEvent) -> tuple[Any, ...]:
    return (
        e.event_id,
        e.scenario_id,
        e.month,
        seq,
        e.occurred_at,
        e.event_type,
        e.amount,
        e.currency,
        e.customer_id,
        e.product_id,
        e.room_id,
        e.room_type_id,
        e.plan_id,
        e.employee_id,
        e.supplier_id,
        e.attributes,
    )


@contextlib.asynccontextmanager
async def _month_written(
    pool: asyncpg.Pool, scenario_id: UUID, month: int, start: int = 0, *, ahead: int | None = None
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction that holds the month's lock and has deleted its events from `start` on; it
    commits when the block ends, notifying LEDGER_STORED with the count `ahead` if given.

    The lock makes writes of one month one after another: a redelivered month can be rendered
    while the first delivery still is, and two DELETE-then-COPY transactions at once would both
    find nothing to delete and insert the same event ids twice. BEGIN, the lock and the DELETE
    go in one round trip (literals: a UUID and integers only), and so do the notification and
    COMMIT, since a month's text is stored on the way to its MonthCompleted."""
    sid, month, start = UUID(str(scenario_id)), int(month), int(start)
    async with pool.acquire() as conn:
        try:
            await conn.execute(
                f"BEGIN; SELECT pg_advisory_xact_lock(hashtext('{sid}'), {month});"
                f" DELETE FROM business_events WHERE scenario_id = '{sid}' AND month = {month} AND seq >= {start}"
            )
            yield conn
        except BaseException:
            if conn.is_in_transaction():
                with contextlib.suppress(*ERRORS):
                    await conn.execute("ROLLBACK")
            raise
        stored = (
            "" if ahead is None else f"SELECT pg_notify('{LEDGER_STORED}', '{sid}:{month}:{int(ahead)}'); "
        )
        await conn.execute(stored + "COMMIT")


async def replace_month(
    pool: asyncpg.Pool, scenario_id: UUID, month: int, events: list[BusinessEvent], *, ahead: bool = False
) -> None:
    """Store a month's events; a redelivered month replaces its rows instead of adding to them.
    `ahead`: these are the month's first events, stored before the rest (LEDGER_STORED says so)."""
    async with _month_written(pool, scenario_id, month, ahead=len(events) if ahead else None) as conn:
        await conn.copy_records_to_table(
            "business_events", records=[_record(i, e) for i, e in enumerate(events)], columns=COLUMNS
        )


async def add_to_month(
    pool: asyncpg.Pool, scenario_id: UUID, month: int, events: list[BusinessEvent], start: int
) -> None:
    """Store `events` after the month's first `start` events, which are stored already (a month's
    numbers go in while its text is being written); a repeat replaces what it added before."""
    async with _month_written(pool, scenario_id, month, start) as conn:
        await conn.copy_records_to_table(
            "business_events",
            records=[_record(start + i, e) for i, e in enumerate(events)],
            columns=COLUMNS,
        )


class MasterDataCache:
    """Master data per scenario: read once per process, since every month of a scenario needs it.

    The months of a scenario arrive together; the first one reads, the others wait for its read.
    Once listening, it reads a scenario's master data as soon as the planner has stored it
    (MASTER_STORED), while the scenario's months are still being planned, and again when the
    planner stores it anew."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: dict[UUID, asyncio.Future[MasterData]] = {}
        self._listener = Listener(MASTER_STORED, self._stored)

    async def listen(self, pool: asyncpg.Pool) -> None:
        await self._listener.start(pool)

    async def stop(self) -> None:
        await self._listener.stop()

    def _stored(self, payload: str) -> None:
        pool = self._listener.pool
        with contextlib.suppress(ValueError):
            if pool is not None:
                self._start(pool, UUID(payload))

    def _start(self, pool: asyncpg.Pool, scenario_id: UUID) -> "asyncio.Future[MasterData]":
        """A read of the scenario's master data, in place of any earlier one."""
        self._items.pop(scenario_id, None)
        if len(self._items) >= self.size:
            self._items.pop(next(iter(self._items)))
        found = self._items[scenario_id] = asyncio.ensure_future(self._read(pool, scenario_id))
        found.add_done_callback(_looked_at)
        return found

    async def get(self, pool: asyncpg.Pool, scenario_id: UUID) -> MasterData:
        found = self._items.get(scenario_id)
        if found is None or (found.done() and (found.cancelled() or found.exception() is not None)):
            found = self._start(pool, scenario_id)  # a read ahead that failed is tried again
        try:
            return await asyncio.shield(found)
        except BaseException:
            if found.done() and self._items.get(scenario_id) is found:
                del self._items[scenario_id]  # a failed read is not cached: the next month reads again
            raise

    def forget(self, scenario_id: UUID) -> None:
        self._items.pop(scenario_id, None)

    @staticmethod
    async def _read(pool: asyncpg.Pool, scenario_id: UUID) -> MasterData:
        data = await pool.fetchval("SELECT data FROM master_data WHERE scenario_id = $1", scenario_id)
        if data is None:
            raise LookupError(f"no master data stored for scenario {scenario_id}")
        return MasterData.model_validate(data)


def _looked_at(read: "asyncio.Future[Any]") -> None:
    """A read ahead that failed is read again by the month that needs it; not an error here."""
    if not read.cancelled():
        read.exception()


async def load_plan(pool: asyncpg.Pool, scenario_id: UUID, month: int) -> dict[str, Any]:
    """A month plan the planner stored instead of sending (an early one until it is complete)."""
    plan = await pool.fetchval(
        f"SELECT {WHOLE_PLAN} FROM month_plans WHERE scenario_id = $1 AND month = $2", scenario_id, month
    )
    if plan is None:
        raise LookupError(f"no stored plan for month {month} of scenario {scenario_id}")
    return dict(plan)


class Abandoned(Exception):
    """The scenario ended (cancelled, or failed elsewhere) while the month was being rendered."""


class _Read(NamedTuple):
    """One read of a scenario's stored plans for the months waiting then."""

    after: int  # notifications of the scenario seen when it started
    months: frozenset[int]
    plans: "asyncio.Future[dict[int, dict[str, Any]]]"


class PlanWatch:
    """Months requested before their plans were stored wait here for them (the claude engine
    requests months on their numbers while the story is written).

    The planner notifies PLANS_STORED when a scenario's plans are complete; a listening connection
    wakes the waiting months, and each also looks again every `poll` seconds, so a notification
    lost with its connection costs time, not the month. A month of a scenario that has ended
    stops waiting (Abandoned); `timeout` bounds the wait.

    The months of a scenario that wait together are woken together: one query reads the plans
    of all of them (not one query each), so they all get their story at the same moment."""

    def __init__(self, poll: float = 1.0) -> None:
        self.poll = poll
        self._waiting: dict[UUID, dict[asyncio.Event, int]] = {}
        self._notes: dict[UUID, int] = {}  # notifications per scenario with months waiting
        self._reads: dict[UUID, _Read] = {}
        self._listener = Listener(PLANS_STORED, self._notified)

    async def start(self, pool: asyncpg.Pool) -> None:
        await self._listener.start(pool)

    async def stop(self) -> None:
        await self._listener.stop()

    def _notified(self, payload: str) -> None:
        with contextlib.suppress(ValueError):
            sid = UUID(payload)
            if sid in self._waiting:
                self._notes[sid] = self._notes.get(sid, 0) + 1
                for event in self._waiting[sid]:
                    event.set()

    async def plan(self, pool: asyncpg.Pool, scenario_id: UUID, month: int, timeout: float) -> dict[str, Any]:
        """What the month's complete plan adds to its early plan (the whole plan if it had
        none), once the planner has stored it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        event = asyncio.Event()
        self._waiting.setdefault(scenario_id, {})[event] = month
        try:
            while True:
                event.clear()
                plan = (await self._read(pool, scenario_id, month)).get(month)
                if plan is not None:
                    return dict(plan)
                if await stopped(pool, scenario_id):
                    raise Abandoned
                left = deadline - loop.time()
                if left <= 0:
                    raise TimeoutError(f"the plan of month {month} was not stored within {timeout:.0f} s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(self.poll, left))
        finally:
            waiting = self._waiting.get(scenario_id)
            if waiting is not None:
                waiting.pop(event, None)
                if not waiting:
                    del self._waiting[scenario_id]
                    self._notes.pop(scenario_id, None)

    async def _read(self, pool: asyncpg.Pool, scenario_id: UUID, month: int) -> dict[int, dict[str, Any]]:
        """The stored plans of the scenario's waiting months: a read under way is joined if it
        began after the latest notification and reads this month, else a new one begins."""
        seen = self._notes.get(scenario_id, 0)
        found = self._reads.get(scenario_id)
        if found is None or found.after < seen or month not in found.months:
            months = frozenset(self._waiting.get(scenario_id, {}).values()) | {month}
            found = self._reads[scenario_id] = _Read(
                seen, months, asyncio.ensure_future(_plans(pool, scenario_id, sorted(months)))
            )
            found.plans.add_done_callback(functools.partial(self._done, scenario_id, found))
        return await asyncio.shield(found.plans)

    def _done(self, scenario_id: UUID, read: _Read, _: object) -> None:
        if self._reads.get(scenario_id) is read:
            del self._reads[scenario_id]
        if not read.plans.cancelled():
            read.plans.exception()  # looked at: every month that joined it gets it


async def _plans(pool: asyncpg.Pool, scenario_id: UUID, months: list[int]) -> dict[int, dict[str, Any]]:
    """What the complete plans of `months` hold beyond their early plans: only the few kB added
    (`later`) where there was an early plan, else the whole plan."""
    rows = await pool.fetch(
        "SELECT month, coalesce(later, plan) AS plan FROM month_plans"
        " WHERE scenario_id = $1 AND month = ANY($2::int[]) AND complete",
        scenario_id,
        months,
    )
    return {r["month"]: r["plan"] for r in rows}
