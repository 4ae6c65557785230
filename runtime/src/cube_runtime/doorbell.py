"""A doorbell for consumers that must take a message within milliseconds but mostly wait.

The embedded broker answers a fetch only when its wait is over, even if a message arrives
meanwhile, so such a consumer fetches with a wait of a few milliseconds: a hundred empty fetches
a second, which cost it and the broker about a tenth of a core. With a doorbell the consumer
pauses its partitions once nothing has come for a moment, and whoever publishes to its topic
rings after the broker has the message (a PostgreSQL NOTIFY naming the topic), which resumes
them at once.

Kafka stays the only path of the messages; the bell only says when to look. A ring that is lost
(a publisher that does not ring, a notification lost with its connection) costs at most
`probe_s`, when the consumer looks anyway, and a consumer whose bell is not listening never
pauses.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from cube_runtime.kafka import publish
from cube_runtime.listen import ERRORS, Listener

log = logging.getLogger(__name__)
CHANNEL = "cube_doorbell"

# Notifies the channel once per topic in $1 (in the caller's transaction: at its commit).
RING_TOPICS = f"SELECT pg_notify('{CHANNEL}', t) FROM unnest($1::text[]) AS t"


async def ring(pool: asyncpg.Pool, *topics: str) -> None:
    """Tell the idle consumers of `topics` that there is something to take. Call it once the
    broker has the message; a failed ring is only time lost."""
    with contextlib.suppress(*ERRORS):
        await pool.execute(RING_TOPICS, list(topics))


_RINGING: set["asyncio.Future[None]"] = set()


def ring_soon(pool: asyncpg.Pool, *topics: str) -> None:
    """`ring`, without waiting for it (the caller goes on with its work)."""
    task = asyncio.ensure_future(ring(pool, *topics))
    _RINGING.add(task)
    task.add_done_callback(_RINGING.discard)


async def publish_and_ring(
    pool: asyncpg.Pool, broker: KafkaBroker, topic: str, event: BaseModel, key: bytes
) -> None:
    """Publish a pipeline event, then ring the doorbell of its topic's consumers (not waited for)."""
    await publish(broker, topic, event, key)
    ring_soon(pool, topic)


class Doorbell:
    """Pauses a FastStream subscriber's partitions after `awake_s` without a message or a ring,
    resumes them on a ring of one of its topics, and looks for `look_s` every `probe_s`."""

    def __init__(
        self,
        subscriber: Any,
        topics: tuple[str, ...],
        *,
        awake_s: float = 0.1,
        probe_s: float = 1.0,
        look_s: float = 0.03,
    ) -> None:
        self.subscriber = subscriber
        self.topics = frozenset(topics)
        self.awake_s, self.probe_s, self.look_s = awake_s, probe_s, look_s
        self._awake_until = 0.0
        self._probe_at = 0.0
        self._listener = Listener(CHANNEL, self._rung)
        self._pool: asyncpg.Pool | None = None
        self._task: asyncio.Task[None] | None = None
        self._woken = asyncio.Event()
        self._busy = 0  # messages being handled
        self.pauses = 0  # times it paused its partitions

    async def start(self, pool: asyncpg.Pool) -> None:
        """Listen for rings; call once the subscriber runs (after the app's start-up)."""
        self._pool = pool
        await self._listener.start(pool)
        self.touch()
        self._task = asyncio.create_task(self._watch(), name="doorbell")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._listener.stop()

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        """Around a handler: the consumer does not pause while a message is being handled (a pause
        would drop the messages fetched behind it), nor for `awake_s` after."""
        self._busy += 1
        self.touch()
        try:
            yield
        finally:
            self._busy -= 1
            self.touch()

    def touch(self, awake_s: float | None = None) -> None:
        """A message came (or a ring): fetch for a while, messages come in runs."""
        now = time.monotonic()
        self._awake_until = max(self._awake_until, now + (self.awake_s if awake_s is None else awake_s))
        self._probe_at = now + self.probe_s
        consumer = getattr(self.subscriber, "consumer", None)
        if consumer is not None:
            paused = consumer.paused()
            if paused:
                consumer.resume(*paused)
                self._woken.set()  # the watch sleeps until the next look: it has a pause to make earlier

    def _rung(self, payload: str) -> None:
        if payload in self.topics:
            self.touch()

    async def _watch(self) -> None:
        retry_at = 0.0
        while True:
            now = time.monotonic()
            if not self._listener.listening and self._pool is not None and now >= retry_at:
                retry_at = now + self.probe_s
                await self._listener.stop()
                await self._listener.start(self._pool)  # logs and gives up until the next try
            try:
                wake_at = self._step(time.monotonic())
            except Exception as exc:  # a consumer between states (rebalancing, stopping): look again soon
                log.debug("doorbell step skipped", extra={"error": repr(exc)})
                wake_at = now + self.look_s
            self._woken.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), max(0.005, wake_at - time.monotonic()))

    def _step(self, now: float) -> float:
        """Pause or wake the consumer as is due at `now`; when to look again."""
        if not self._listener.listening:
            self.touch()  # no bell to wake it: it keeps fetching
            return now + self.probe_s
        if now >= self._probe_at:
            self.touch(self.look_s)  # a look, in case a ring was lost
        consumer = getattr(self.subscriber, "consumer", None)
        if consumer is None:
            return now + self.look_s
        if self._busy:
            return now + self.awake_s
        if now < self._awake_until:
            return self._awake_until
        idle = set(consumer.assignment()) - consumer.paused()
        if idle:
            consumer.pause(*idle)
            self.pauses += 1
        return self._probe_at
