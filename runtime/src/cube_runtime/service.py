"""The composition every pipeline service shares: settings, logs, broker, pool, topics, migrations."""

import asyncio
import gc
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg
from faststream import FastStream
from faststream.kafka import KafkaBroker

from cube_runtime import db, kafka, logs
from cube_runtime.doorbell import Doorbell
from cube_runtime.positions import PositionGuard
from cube_runtime.presence import Presence
from cube_runtime.settings import ConfigError, CubeSettings, load

S = TypeVar("S", bound=CubeSettings)


@dataclass
class Runtime(Generic[S]):
    """What a service's handlers need, filled in at start-up."""

    service: str
    settings: S
    broker: KafkaBroker
    log: logging.Logger
    presence: Presence
    positions: PositionGuard
    _pool: asyncpg.Pool | None = None
    shutdown_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database pool used before start-up")
        return self._pool


def build(service: str, settings_cls: type[S], *, pool_size: int = 10) -> tuple[FastStream, Runtime[S]]:
    """A FastStream app for `service`, its broker and the runtime its handlers use."""
    settings = load(settings_cls)
    log = logs.setup(service, settings.cube_log_level)
    bootstrap = settings.require_broker()
    dsn = settings.require_database()
    broker = kafka.make_broker(bootstrap, service)
    app = FastStream(broker, logger=log)
    rt: Runtime[S] = Runtime(service, settings, broker, log, Presence(service), PositionGuard(broker))

    @app.on_startup
    async def _start() -> None:
        await db.migrate(dsn)
        log.info("database migrated")
        await kafka.ensure_topics(bootstrap)
        log.info("topics ready")
        rt._pool = await db.create_pool(dsn, max_size=pool_size)
        await rt.presence.start(rt._pool)
        await rt.positions.start()
        log.info("connected; joining the consumer group")

    @app.on_shutdown
    async def _drain() -> None:
        # Runs while the broker still runs, so in-flight work can publish its result.
        for hook in rt.shutdown_hooks:
            await hook()
        await rt.positions.stop()
        await rt.presence.stop()

    @app.after_shutdown
    async def _close() -> None:
        if rt._pool is not None:
            await rt._pool.close()

    return app, rt


def doorbell(app: FastStream, rt: Runtime[Any], subscriber: Any, *topics: str) -> Doorbell:
    """Let `subscriber` pause while idle and wake when a publisher rings one of `topics` (see
    `cube_runtime.doorbell`); its handler runs inside `handling()`. With CUBE_DOORBELL_PROBE_MS
    at 0 the bell is never started: the subscriber fetches all the time."""
    probe_ms = rt.settings.cube_doorbell_probe_ms
    bell = Doorbell(subscriber, topics, probe_s=probe_ms / 1000)
    if probe_ms > 0:

        @app.after_startup
        async def _ring_to_wake() -> None:
            await bell.start(rt.pool)

        rt.shutdown_hooks.append(bell.stop)
    return bell


def tune_gc() -> None:
    """Collect cycles less often. A service allocates tens of thousands of objects per scenario
    (events, their attributes, decoded rows), nearly all freed by reference counting; with the
    default thresholds the cycle collector runs over them again and again (it doubled the time
    to read a year back). The modules and settings loaded at start-up are frozen out of it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def fail(service: str, message: str) -> None:
    """Exit with a one-line error that names the bad setting."""
    print(f"cube-{service}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def run(service: str, factory: Callable[[], FastStream]) -> None:
    """Entry point of `python -m cube_<service>`."""
    try:
        app = factory()
        tune_gc()
        asyncio.run(app.run())
    except ConfigError as exc:
        fail(service, str(exc))
    except KeyboardInterrupt:
        pass
