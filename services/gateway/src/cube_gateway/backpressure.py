"""Backpressure: no new scenario while too many are queued or processing.

The pipeline takes scenarios as fast as its workers allow; accepting more than it can work on
only makes every one of them wait longer. So at the limit the gateway answers 429 with a
Retry-After, and the client comes back when there is room.
"""

import math
import time

import asyncpg
from fastapi import HTTPException

from cube_runtime.redrive import OPEN

# Served by the partial index scenario_status_open; the LIMIT keeps the count's cost bounded by
# the cap, however many scenarios there are. A status row without its scenario (a late event of a
# deleted one) is not work in flight; the scalar subquery makes that one primary-key probe per
# open row, where an EXISTS could be planned as a scan of every scenario.
COUNT_SQL = f"""
SELECT count(*) FROM (
    SELECT 1 FROM scenario_status st
    WHERE st.status IN {OPEN!r}
      AND (SELECT 1 FROM scenarios s WHERE s.scenario_id = st.scenario_id) IS NOT NULL
    LIMIT $1
) open
"""
# The farther over the limit, the longer to wait: a full backlog of `limit` scenarios beyond the
# limit is worth this many seconds; capped so that a client never waits for minutes.
SECONDS_PER_BACKLOG = 30
MAX_RETRY_AFTER = 60


def retry_after(open_count: int, limit: int) -> int:
    """Seconds until there is likely room again: at least 1."""
    over = open_count - limit + 1
    return max(1, min(MAX_RETRY_AFTER, math.ceil(SECONDS_PER_BACKLOG * over / limit)))


class Admission:
    """Admits new work while fewer than `limit` scenarios are open.

    Below the limit every check counts (exact, and cheap: at most `limit` index entries). A full
    verdict is remembered for `hold` seconds, so a client hammering a full gateway costs no query."""

    def __init__(self, limit: int, hold: float = 0.5) -> None:
        self.limit, self.hold = limit, hold
        self._full_until = 0.0
        self._open = 0

    async def open_count(self, pool: asyncpg.Pool) -> int:
        # Counting up to four times the limit tells how far over it we are, for Retry-After.
        return int(await pool.fetchval(COUNT_SQL, self.limit * 4))

    async def full(self, pool: asyncpg.Pool) -> bool:
        if time.monotonic() < self._full_until:
            return True
        self._open = await self.open_count(pool)
        if self._open < self.limit:
            return False
        self._full_until = time.monotonic() + self.hold
        return True

    def refusal(self) -> HTTPException:
        """The 429 for the last full verdict."""
        seconds = retry_after(self._open, self.limit)
        shown = f"{self._open}+" if self._open >= self.limit * 4 else str(self._open)
        return HTTPException(
            429,
            f"{shown} scenarios are queued or processing, at or above this server's limit of"
            f" {self.limit}; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )

    async def admit(self, pool: asyncpg.Pool) -> None:
        """Raise a 429 (with Retry-After) when the pipeline is full."""
        if await self.full(pool):
            raise self.refusal()
