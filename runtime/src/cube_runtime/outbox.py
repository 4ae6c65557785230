"""Writing to the outbox: an event queued in the caller's transaction, published after its commit.

The gateway's relay publishes the rows; NOTIFY wakes it at commit, so a queued event goes out in
milliseconds, and a row written while the broker is away waits until it is back.
"""

import asyncpg
from pydantic import BaseModel

from cube_runtime.kafka import encode, event_headers

CHANNEL = "cube_outbox"


async def add(
    conn: asyncpg.Connection, topic: str, key: bytes, event: BaseModel, partition: int | None = None
) -> None:
    """Queue `event` for `topic` (on `partition`, or by key when None) inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO outbox (topic, key, payload, headers, partition) VALUES ($1, $2, $3, $4, $5)",
        topic,
        key,
        encode(event),
        event_headers(event),
        partition,
    )
    await conn.execute(f"NOTIFY {CHANNEL}")
