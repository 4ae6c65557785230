"""A background task that does one pass every `interval` seconds until it is stopped."""

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


class Periodic:
    """Subclasses implement `tick`; an error in one pass is logged and the next pass runs anyway."""

    name = "periodic"
    interval = 1.0
    error_level = logging.WARNING

    _task: asyncio.Task[None] | None = None

    async def tick(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

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
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database or broker away, a consumer between states
                log.log(self.error_level, "%s pass failed", self.name, extra={"error": repr(exc)})
