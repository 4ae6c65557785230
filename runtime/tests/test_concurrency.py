"""The committer runs jobs at once but commits only a partition's finished prefix."""

import asyncio

from aiokafka import TopicPartition

from cube_runtime.concurrency import ConcurrentCommitter, LaterCommits


class RecordingConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


async def test_commits_stop_below_the_oldest_unfinished_message() -> None:
    consumer = RecordingConsumer()
    committer = ConcurrentCommitter(limit=4)
    gates = {o: asyncio.Event() for o in range(3)}

    def job(offset: int):  # type: ignore[no-untyped-def]
        async def run() -> None:
            await gates[offset].wait()

        return run

    for offset in range(3):
        await committer.submit(consumer, "t", 0, offset, job(offset))  # type: ignore[arg-type]
    assert committer.in_flight == 3  # all three run at once
    gates[2].set()
    await asyncio.sleep(0.01)
    assert consumer.commits[-1] == {TopicPartition("t", 0): 0}  # 0 and 1 still running
    gates[0].set()
    await asyncio.sleep(0.01)
    assert consumer.commits[-1] == {TopicPartition("t", 0): 1}
    gates[1].set()
    await asyncio.sleep(0.01)
    assert consumer.commits[-1] == {TopicPartition("t", 0): 3}


async def test_limit_bounds_concurrency_and_failed_jobs_are_not_committed() -> None:
    consumer = RecordingConsumer()
    committer = ConcurrentCommitter(limit=2)
    running = 0
    peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1

    async def boom() -> None:
        raise RuntimeError("bug")

    await committer.submit(consumer, "t", 1, 0, boom)  # type: ignore[arg-type]
    for offset in range(1, 6):
        await committer.submit(consumer, "t", 1, offset, work)  # type: ignore[arg-type]
    await committer.drain(timeout=2)
    assert peak == 2
    assert all(c[TopicPartition("t", 1)] == 0 for c in consumer.commits)  # offset 0 never finished


async def test_draining_refuses_new_work() -> None:
    consumer = RecordingConsumer()
    committer = ConcurrentCommitter(limit=2)
    await committer.drain(timeout=0.1)
    ran = False

    async def work() -> None:
        nonlocal ran
        ran = True

    await committer.submit(consumer, "t", 0, 0, work)  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    assert not ran and consumer.commits == []


class SlowConsumer(RecordingConsumer):
    """Each commit takes a while, as a round trip to the broker does."""

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await asyncio.sleep(0.02)
        await super().commit(offsets)


class Message:
    def __init__(self, consumer: RecordingConsumer, partition: int, offset: int) -> None:
        self.consumer = consumer
        self.raw_message = type("Raw", (), {"topic": "t", "partition": partition, "offset": offset})()


async def test_later_commits_go_out_behind_the_handler_and_together() -> None:
    consumer = SlowConsumer()
    commits = LaterCommits()
    commits.handled(Message(consumer, 0, 0))
    await asyncio.sleep(0.005)  # the next message is handled while the commit is under way
    assert consumer.commits == []
    for offset in (1, 2):
        commits.handled(Message(consumer, 0, offset))
    commits.handled(Message(consumer, 1, 7))
    await commits.drain(timeout=1.0)
    # The first commit was under way when the others came: they went out in one more.
    assert consumer.commits == [
        {TopicPartition("t", 0): 1},
        {TopicPartition("t", 0): 3, TopicPartition("t", 1): 8},
    ]


async def test_later_commits_forget_a_partition_read_again() -> None:
    consumer = SlowConsumer()
    commits = LaterCommits()
    commits.handled(Message(consumer, 0, 0))
    commits.handled(Message(consumer, 3, 5))
    commits.forget(TopicPartition("t", 3))
    await commits.drain(timeout=1.0)
    assert consumer.commits == [{TopicPartition("t", 0): 1}]
