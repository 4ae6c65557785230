"""A periodic task keeps running after a failed pass, and stops when asked."""

import asyncio

from cube_runtime.periodic import Periodic


class Flaky(Periodic):
    interval = 0.01

    def __init__(self) -> None:
        self.passes = 0

    async def tick(self) -> None:
        self.passes += 1
        if self.passes == 1:
            raise ConnectionError("the database is away")


async def test_a_failed_pass_does_not_stop_the_next_and_stop_ends_it() -> None:
    task = Flaky()
    await task.start()
    for _ in range(100):
        if task.passes >= 3:
            break
        await asyncio.sleep(0.01)
    await task.stop()
    assert task.passes >= 3
    stopped_at = task.passes
    await asyncio.sleep(0.05)
    assert task.passes == stopped_at
