"""Bounded in-process concurrency for a Kafka consumer that still commits only durable work.

FastStream hands the handler one message at a time; the handler submits the work here and
returns, so one consumer can run several messages at once. Offsets are committed per
partition up to the lowest message still in flight, so a crash redelivers exactly the
unfinished work (at-least-once), never skips it.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

log = logging.getLogger(__name__)


async def _nothing() -> None:
    return None


class ConcurrentCommitter:
    """Runs up to `limit` jobs at once and commits each partition's finished prefix."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)
        self._pending: dict[TopicPartition, set[int]] = {}
        self._finished: dict[TopicPartition, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def submit_message(self, msg: Any, job: Callable[[], Awaitable[None]] | None) -> None:
        """Submit the work of a FastStream Kafka message; `None` only moves its offset on."""
        raw = msg.raw_message
        await self.submit(msg.consumer, raw.topic, raw.partition, raw.offset, job or _nothing)

    async def submit(
        self,
        consumer: AIOKafkaConsumer,
        topic: str,
        partition: int,
        offset: int,
        job: Callable[[], Awaitable[None]],
    ) -> None:
        """Start `job` once a slot is free (this wait is the consumer's backpressure)."""
        tp = TopicPartition(topic, partition)
        self._pending.setdefault(tp, set()).add(offset)
        if self._closing:
            return  # left pending: never committed, redelivered after the restart
        await self._slots.acquire()
        task = asyncio.create_task(self._run(consumer, tp, offset, job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int, job: Callable[[], Awaitable[None]]
    ) -> None:
        try:
            await job()
        except Exception:
            # The job reports its own failures; anything escaping is a bug, and the message
            # stays uncommitted so that it is redelivered.
            log.exception("job failed without handling its error", extra={"offset": offset})
            self._slots.release()
            return
        self._slots.release()
        pending = self._pending.setdefault(tp, set())
        pending.discard(offset)
        self._finished[tp] = max(self._finished.get(tp, -1), offset)
        commit_to = min(pending) if pending else self._finished[tp] + 1
        try:
            await consumer.commit({tp: commit_to})
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            # The partition moved to another member: it will redeliver what we did not commit,
            # and our consumers are idempotent.
            log.warning("offset commit skipped", extra={"partition": tp.partition, "error": str(exc)})

    def forget(self, tp: TopicPartition) -> None:
        """The partition is read again from its start: its finished offsets no longer apply."""
        self._finished.pop(tp, None)
        self._pending.pop(tp, None)

    async def drain(self, timeout: float) -> None:
        """Stop taking work and wait up to `timeout` for what is running."""
        self._closing = True
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


class LaterCommits:
    """Commits for a consumer that handles its messages one at a time, in order: a handled
    message's offset is committed in the background instead of before the next message is
    taken, and offsets handled while a commit is under way go in the next one. A crash before
    the commit redelivers the message, as it would have before the handler returned; the
    consumer is idempotent."""

    def __init__(self) -> None:
        self._due: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    def handled(self, msg: Any) -> None:
        """The message's work is done: its offset is to be committed."""
        raw = msg.raw_message
        tp = TopicPartition(raw.topic, raw.partition)
        self._consumer = msg.consumer
        self._due[tp] = max(self._due.get(tp, 0), raw.offset + 1)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._commit())

    async def _commit(self) -> None:
        while self._due and self._consumer is not None:
            due, self._due = self._due, {}
            try:
                await self._consumer.commit(due)
            except (CommitFailedError, IllegalStateError, KafkaError) as exc:
                # A partition moved to another member: it redelivers what was not committed.
                log.warning("offset commit skipped", extra={"partitions": len(due), "error": str(exc)})

    def forget(self, tp: TopicPartition) -> None:
        """The partition is read again from its start: its handled offsets no longer apply."""
        self._due.pop(tp, None)

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` for the commits still due."""
        if self._task is not None:
            await asyncio.wait([self._task], timeout=timeout)
