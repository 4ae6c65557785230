"""Ledgers read ahead: a month-worker stores a month's numbers while its text is being written
and says so on LEDGER_STORED; the validator reads them then, while it would otherwise wait, so
that after the last month it reads only what was added since. Once every month's numbers are in
and the plans are stored, it checks the numbers too (`check_numbers`), and after the last month
only the text events are left to check.

A ledger read ahead is used only if its rows are still the ones read: the same count, written
by the same transaction (`xmin`). A month written again since is read again; numbers checked
ahead are used only if they were checked on the ledgers, master data and plans the scenario has
at the end."""

import asyncio
import contextlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg

from cube_contracts import BusinessEvent, MasterData, ScenarioSpec
from cube_engine.validation import ValidationReport, check_numbers
from cube_engine.validation.text import TEXT_EVENT_TYPES
from cube_runtime.listen import ERRORS, Listener
from cube_runtime.redrive import LEDGER_STORED, PLANS_STORED
from cube_validator.analytics import PUBLISHED_VALUE, Prepared, Published
from cube_validator.repository import EVENT_COLUMNS, Definition, load_definition

log = logging.getLogger(__name__)


def _yield_the_cpu() -> None:
    """Lower this thread's CPU priority (Linux schedules threads on their own): numbers checked
    ahead are work done in idle time, which month-workers sending their calls need more."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


_BACKGROUND = ThreadPoolExecutor(1, thread_name_prefix="check-ahead", initializer=_yield_the_cpu)


class Ledger(NamedTuple):
    """The first `size` events of a month, as written by transaction `version`, and their
    analytics form."""

    size: int
    version: str
    events: list[BusinessEvent]
    published: list[Published]


class Checked(NamedTuple):
    """A scenario's numbers checked ahead, and what they were checked on."""

    versions: dict[int, tuple[int, str]]  # month: (size, version) of its ledger
    definition: Definition
    numbers_ids: set[UUID]
    report: ValidationReport
    published: Prepared | None = None  # the numbers for the analytics topic, if they passed

    def fits(
        self,
        spec: ScenarioSpec,
        master: MasterData,
        plans: list[dict[str, Any]],
        ledgers: "dict[int, Ledger]",
        events: list[BusinessEvent],
    ) -> bool:
        """Whether these are the numbers of the scenario as loaded at the end: the same ledgers,
        master data and plans, and nothing but text events added to the ledgers."""
        numbers = sum(1 for e in events if e.event_type not in TEXT_EVENT_TYPES)
        known = self.definition
        return (
            self.versions == {m: (ledger.size, ledger.version) for m, ledger in ledgers.items()}
            and numbers == sum(size for size, _ in self.versions.values())
            and (known.spec, known.master, known.plans) == (spec, master, plans)
        )


class LedgerPrefetch:
    """Months' first events, read when their worker stores them; bounded by the events held,
    the oldest scenario is forgotten first."""

    def __init__(
        self,
        max_events: int = 100_000,
        reads: int = 1,
        scenarios: int = 1000,
        prepare: Callable[[UUID, list[Published]], Prepared] | None = None,
    ) -> None:
        self.max_events = max_events
        self._prepare = prepare  # makes checked numbers ready for the analytics topic
        # Reads one at a time: they come in bursts, and PostgreSQL has other work then (the
        # planner storing the story the months wait for).
        self._reads = asyncio.Semaphore(reads)
        self._scenarios: OrderedDict[UUID, dict[int, asyncio.Task[Ledger | None]]] = OrderedDict()
        # Scenarios whose months this process validates (it saw their MonthStarted), with their
        # number of months: with several validators, each reads ahead only its own.
        self._mine: OrderedDict[UUID, int] = OrderedDict()
        self._remembered = scenarios
        self._checks: dict[UUID, asyncio.Task[Checked | None]] = {}
        self._listener = Listener(LEDGER_STORED, self._notified)
        self._plans = Listener(PLANS_STORED, self._planned)

    async def start(self, pool: asyncpg.Pool) -> None:
        await self._listener.start(pool)
        await self._plans.start(pool)

    async def stop(self) -> None:
        tasks: list[asyncio.Task[Any]] = [t for months in self._scenarios.values() for t in months.values()]
        tasks += self._checks.values()
        self._scenarios.clear()
        self._checks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await self._listener.stop()
        await self._plans.stop()

    def expect(self, scenario_id: UUID, months: int) -> None:
        """A month of this scenario (of `months` months) started, and its results come here."""
        self._mine[scenario_id] = months
        self._mine.move_to_end(scenario_id)
        while len(self._mine) > self._remembered:
            self._mine.popitem(last=False)

    def _notified(self, payload: str) -> None:
        pool = self._listener.pool
        try:
            sid, month, count = payload.split(":")
            scenario_id = UUID(sid)
            if pool is not None and scenario_id in self._mine:
                self.read(pool, scenario_id, int(month), int(count))
        except ValueError:
            log.warning("unreadable ledger notification", extra={"payload": payload[:100]})

    def _planned(self, payload: str) -> None:
        """Plans stored (for the first time, or again): the numbers are checked on them."""
        pool = self._plans.pool
        with contextlib.suppress(ValueError):
            if pool is not None:
                self._check_when_read(pool, UUID(payload))

    def read(self, pool: asyncpg.Pool, scenario_id: UUID, month: int, count: int) -> None:
        """Start reading the first `count` events of a month."""
        months = self._scenarios.setdefault(scenario_id, {})
        self._scenarios.move_to_end(scenario_id)
        earlier = months.get(month)
        if earlier is not None:
            earlier.cancel()
        checking = self._checks.pop(scenario_id, None)
        if checking is not None:
            checking.cancel()  # checks numbers of which one month is being written again
        task = months[month] = asyncio.create_task(self._read(pool, scenario_id, month, count))
        task.add_done_callback(lambda _: self._check_when_read(pool, scenario_id))
        self._trim()

    def _check_when_read(self, pool: asyncpg.Pool, scenario_id: UUID) -> None:
        """Check the scenario's numbers once every month of it is read ahead."""
        total = self._mine.get(scenario_id)
        months = self._scenarios.get(scenario_id, {})
        if total is None or sorted(months) != list(range(1, total + 1)):
            return
        ledgers = {}
        for month, task in months.items():
            if not task.done() or task.cancelled() or task.exception() is not None:
                return
            ledger = task.result()
            if ledger is None:
                return
            ledgers[month] = ledger
        earlier = self._checks.pop(scenario_id, None)
        if earlier is not None:
            earlier.cancel()
        self._checks[scenario_id] = asyncio.create_task(self._check(pool, scenario_id, ledgers))

    async def _check(
        self, pool: asyncpg.Pool, scenario_id: UUID, ledgers: dict[int, Ledger]
    ) -> Checked | None:
        """`check_numbers` on the ledgers; None when the plans are not all stored yet."""
        async with pool.acquire() as conn:
            definition = await load_definition(conn, scenario_id)
        spec, master, plans, _ = definition
        if len(plans) != spec.months:
            return None  # PLANS_STORED starts the check again
        numbers = [e for month in sorted(ledgers) for e in ledgers[month].events]
        if any(e.event_type in TEXT_EVENT_TYPES for e in numbers):
            return None
        loop = asyncio.get_running_loop()
        report = await loop.run_in_executor(_BACKGROUND, check_numbers, spec, master, plans, numbers)
        published = None
        if report.passed and self._prepare is not None:  # numbers that pass are published at the end
            ready = [p for month in sorted(ledgers) for p in ledgers[month].published]
            published = await loop.run_in_executor(_BACKGROUND, self._prepare, scenario_id, ready)
        versions = {m: (ledger.size, ledger.version) for m, ledger in ledgers.items()}
        return Checked(versions, definition, {e.event_id for e in numbers}, report, published)

    def checked(self, scenario_id: UUID) -> bool:
        """Whether the scenario's numbers have been checked ahead (and not read again since)."""
        task = self._checks.get(scenario_id)
        return (
            task is not None
            and task.done()
            and not task.cancelled()
            and task.exception() is None
            and (task.result() is not None)
        )

    def checking(self, scenario_id: UUID) -> "asyncio.Task[Checked | None] | None":
        """The check of the scenario's numbers ahead, if one was started; call before `take`."""
        return self._checks.pop(scenario_id, None)

    async def take(self, conn: asyncpg.Connection, scenario_id: UUID) -> dict[int, Ledger]:
        """The scenario's ledgers read ahead that are still current; the scenario is forgotten."""
        found: dict[int, Ledger] = {}
        self._mine.pop(scenario_id, None)
        for month, task in self._scenarios.pop(scenario_id, {}).items():
            with contextlib.suppress(asyncio.CancelledError, *ERRORS):
                ledger = await task
                if ledger is not None:
                    found[month] = ledger
        if not found:
            return found
        months = sorted(found)
        current = await conn.fetch(
            """
            SELECT l.month, count(e.event_id) AS n, min(e.xmin::text) AS lo, max(e.xmin::text) AS hi
            FROM unnest($2::int[], $3::int[]) AS l(month, upto)
            JOIN business_events e ON e.scenario_id = $1 AND e.month = l.month AND e.seq < l.upto
            GROUP BY l.month
            """,
            scenario_id,
            months,
            [found[m].size for m in months],
        )
        still = {
            r["month"]
            for r in current
            if r["n"] == found[r["month"]].size and r["lo"] == r["hi"] == found[r["month"]].version
        }
        return {m: ledger for m, ledger in found.items() if m in still}

    def read_months(self, scenario_id: UUID) -> list[int]:
        """The months of a scenario whose read has finished."""
        return sorted(m for m, t in self._scenarios.get(scenario_id, {}).items() if t.done())

    async def _read(self, pool: asyncpg.Pool, scenario_id: UUID, month: int, count: int) -> Ledger | None:
        async with self._reads:
            return await _read(pool, scenario_id, month, count)

    def forget(self, scenario_id: UUID) -> None:
        self._mine.pop(scenario_id, None)
        for task in self._scenarios.pop(scenario_id, {}).values():
            task.cancel()
        checking = self._checks.pop(scenario_id, None)
        if checking is not None:
            checking.cancel()

    def _held(self) -> int:
        held = 0
        for months in self._scenarios.values():
            for task in months.values():
                if task.done() and not task.cancelled() and task.exception() is None:
                    ledger = task.result()
                    held += ledger.size if ledger is not None else 0
        return held

    def _trim(self) -> None:
        while len(self._scenarios) > 1 and self._held() > self.max_events:
            self.forget(next(iter(self._scenarios)))


async def _read(pool: asyncpg.Pool, scenario_id: UUID, month: int, count: int) -> Ledger | None:
    rows = await pool.fetch(
        f"SELECT xmin::text AS version, {PUBLISHED_VALUE} AS value, {EVENT_COLUMNS} FROM business_events"
        " WHERE scenario_id = $1 AND month = $2 AND seq < $3 ORDER BY seq",
        scenario_id,
        month,
        count,
    )
    versions = {r["version"] for r in rows}
    if len(rows) != count or len(versions) != 1:
        return None  # already being written again
    events, published = [], []
    for r in rows:
        values = dict(r)
        del values["version"]
        value = values.pop("value")
        event = BusinessEvent.trusted(values)
        events.append(event)
        published.append(Published(event.event_id, event.event_type, value.encode()))
    return Ledger(count, versions.pop(), events, published)
