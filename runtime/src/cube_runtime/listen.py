"""PostgreSQL notifications (LISTEN) on a connection held from a service's pool."""

import contextlib
import logging
from collections.abc import Callable

import asyncpg

log = logging.getLogger(__name__)
ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Listener:
    """Calls `on_payload` with the payload of every notification on `channel`. Notifications are
    a shortcut, never the only way work is found: one lost with its connection costs time only."""

    def __init__(self, channel: str, on_payload: Callable[[str], None]) -> None:
        self.channel = channel
        self._on_payload = on_payload
        self._held: tuple[asyncpg.Pool, asyncpg.Connection] | None = None

    @property
    def pool(self) -> asyncpg.Pool | None:
        """The pool it listens from, once started."""
        return self._held[0] if self._held is not None else None

    @property
    def listening(self) -> bool:
        """Whether notifications reach it: started, and its connection still open."""
        if self._held is None:
            return False
        try:
            return not self._held[1].is_closed()
        except asyncpg.InterfaceError:  # its connection died and the pool took it back
            return False

    async def start(self, pool: asyncpg.Pool) -> None:
        try:
            conn = await pool.acquire()
            await conn.add_listener(self.channel, self._notified)
        except ERRORS as exc:
            log.warning("not listening", extra={"channel": self.channel, "error": repr(exc)})
            return
        self._held = (pool, conn)

    async def stop(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            pool, conn = held
            with contextlib.suppress(*ERRORS):
                await conn.remove_listener(self.channel, self._notified)
            with contextlib.suppress(*ERRORS):
                await pool.release(conn)

    def _notified(self, conn: object, pid: int, channel: str, payload: str) -> None:
        self._on_payload(payload)
