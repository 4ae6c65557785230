"""Ledgers read ahead: a month-worker stores a month's numbers while its text is being written
and says so on LEDGER_STORED; the validator reads them then, while it would otherwise wait, so
that after the last month it reads only what was added since.

A ledger read ahead is used only if its rows are still the ones read: the same count, written
by the same transaction (`xmin`). A month written again since is read again."""

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import NamedTuple
from uuid import UUID

import asyncpg

from cube_contracts import BusinessEvent
from cube_runtime.listen import ERRORS, Listener
from cube_runtime.redrive import LEDGER_STORED
from cube_validator.analytics import PUBLISHED_VALUE, Published
from cube_validator.repository import EVENT_COLUMNS

log = logging.getLogger(__name__)


class Ledger(NamedTuple):
    """The first `size` events of a month, as written by transaction `version`, and their
    analytics form."""

    size: int
    version: str
    events: list[BusinessEvent]
    published: list[Published]


class LedgerPrefetch:
    """Months' first events, read when their worker stores them; bounded by the events held,
    the oldest scenario is forgotten first."""

    def __init__(self, max_events: int = 100_000, reads: int = 1, scenarios: int = 1000) -> None:
        self.max_events = max_events
        # Reads one at a time: they come in bursts, and PostgreSQL has other work then (the
        # planner storing the story the months wait for).
        self._reads = asyncio.Semaphore(reads)
        self._scenarios: OrderedDict[UUID, dict[int, asyncio.Task[Ledger | None]]] = OrderedDict()
        # Scenarios whose months this process validates (it saw their MonthStarted): with several
        # validators, each reads ahead only its own.
        self._mine: OrderedDict[UUID, None] = OrderedDict()
        self._remembered = scenarios
        self._listener = Listener(LEDGER_STORED, self._notified)

    async def start(self, pool: asyncpg.Pool) -> None:
        await self._listener.start(pool)

    async def stop(self) -> None:
        tasks = [t for months in self._scenarios.values() for t in months.values()]
        self._scenarios.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await self._listener.stop()

    def expect(self, scenario_id: UUID) -> None:
        """A month of this scenario started, and its results come to this process."""
        self._mine[scenario_id] = None
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

    def read(self, pool: asyncpg.Pool, scenario_id: UUID, month: int, count: int) -> None:
        """Start reading the first `count` events of a month."""
        months = self._scenarios.setdefault(scenario_id, {})
        self._scenarios.move_to_end(scenario_id)
        earlier = months.get(month)
        if earlier is not None:
            earlier.cancel()
        months[month] = asyncio.create_task(self._read(pool, scenario_id, month, count))
        self._trim()

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
