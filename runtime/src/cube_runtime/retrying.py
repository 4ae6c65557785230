"""Riding out a database or broker that is away for a moment (a restart, a failover).

A handler whose work hits a connection error waits and tries again, holding its message, so the
message is neither committed as done nor lost; only an error that outlasts `patience` escapes,
and then the message is redelivered (or re-driven by the reconciler).
"""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError

log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,  # refused or reset connections, and TimeoutError
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # e.g. a connection closed under a query
    asyncpg.OperatorInterventionError,  # the server shutting down or starting up
    asyncpg.TooManyConnectionsError,
    asyncpg.InternalClientError,  # a connection broken in the middle of an operation
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
)


async def patiently(
    work: Callable[[], Awaitable[T]], what: str, patience: float = 60.0, first_delay: float = 0.2
) -> T:
    """`await work()`, again after transient errors, for up to `patience` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    delay = first_delay
    while True:
        try:
            return await work()
        except TRANSIENT as exc:
            if loop.time() + delay > deadline:
                raise
            log.warning("waiting for the database or broker", extra={"work": what, "error": repr(exc)})
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5.0)
