"""`cube up`: the whole stack as separate OS processes, supervised in the foreground."""

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import Field

from cube_contracts.topics import ALL_TOPICS
from cube_runtime import db, embedded, kafka
from cube_runtime.settings import ConfigError, CubeSettings, load

log = logging.getLogger("launcher")

# Stop order: intake first, so nothing new arrives while the pipeline winds down.
SERVICES = ("gateway", "planner", "month-worker", "validator", "progress")
STOP_TIMEOUT = 6.0
_PR_SET_PDEATHSIG = 1


class LauncherSettings(CubeSettings):
    """What `cube up` reads."""

    cube_http_host: str = Field(default="127.0.0.1", description="Gateway address.")
    cube_http_port: int = Field(default=8080, ge=1, le=65535, description="Gateway port.")
    cube_workers: int = Field(default=2, ge=1, le=64, description="month-worker processes.")
    cube_ready_timeout: float = Field(default=90.0, gt=0, description="Seconds to wait for /readyz.")


def _die_with_parent() -> None:
    # If the launcher is killed outright, its children must not outlive it.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Service:
    """One supervised service process."""

    name: str
    module: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    next_start: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        out = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env={**self.env, **self.extra},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        out.close()
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None


@dataclass
class Supervised:
    """The embedded broker or database: if it exits, started again on the same port."""

    child: embedded.Child
    relaunch: Callable[[int], embedded.Child]
    restarts: int = 0
    failures: int = 0
    next_start: float = 0.0
    topics_missing: bool = False


ADDRESSES = "stack.json"


def _write_addresses(home: Path, bootstrap: str, dsn: str) -> None:
    # So that `cube dlq` finds an embedded broker and database on ports this launcher picked.
    (home / ADDRESSES).write_text(
        json.dumps({"pid": os.getpid(), "kafka_bootstrap_servers": bootstrap, "database_url": dsn})
    )


def running_addresses(home: Path) -> tuple[str | None, str | None]:
    """Broker and database of the `cube up` running with this CUBE_HOME, if one runs."""
    try:
        found = json.loads((home / ADDRESSES).read_text())
        os.kill(int(found["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    return found.get("kafka_bootstrap_servers"), found.get("database_url")


async def restore_topics(bootstrap: str, attempts: int = 5) -> list[str]:
    """Create the topics on a broker that lost them. Tansu creates a topic with 4 partitions
    whenever a client asks for it: a service that reconnected first may have made some with too
    few partitions (month.requested needs 24), so those are deleted and created again."""
    from aiokafka.admin import AIOKafkaAdminClient

    created = await kafka.ensure_topics(bootstrap, timeout=10)
    for _ in range(attempts):
        found = await kafka.topic_partitions(bootstrap)
        short = [t for t in ALL_TOPICS if found.get(t.name, 0) < t.partitions]
        if not short:
            break
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","), request_timeout_ms=10_000)
        await admin.start()
        try:
            await admin.delete_topics([t.name for t in short if t.name in found])
        finally:
            await admin.close()
        created += await kafka.ensure_topics(bootstrap, short, timeout=10)
    return sorted(set(created))


class Stack:
    """Broker, database and services of one `cube up`."""

    def __init__(
        self, settings: LauncherSettings, workers: int, extra_env: dict[str, str] | None = None
    ) -> None:
        self.settings = settings
        self.extra_env = extra_env or {}
        self.workers = workers
        self.home = settings.cube_home.resolve()
        self.logs = self.home / "logs"
        self.infra: list[Supervised] = []
        self.services: list[Service] = []
        self.stopping = False

    @property
    def url(self) -> str:
        return f"http://{self.settings.cube_http_host}:{self.settings.cube_http_port}"

    def _check_port(self) -> None:
        host, port = self.settings.cube_http_host, self.settings.cube_http_port
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                raise ConfigError(
                    f"CUBE_HTTP_PORT: cannot listen on {host}:{port} ({exc.strerror})"
                ) from None

    def start(self) -> None:
        self._check_port()
        self.logs.mkdir(parents=True, exist_ok=True)
        bootstrap = self.settings.kafka_bootstrap_servers
        if not bootstrap:
            child = embedded.start_broker(self.logs)
            self.infra.append(Supervised(child, lambda port: embedded.start_broker(self.logs, port)))
            bootstrap = child.url
            log.info("embedded broker (Tansu) listening on %s", bootstrap)
        dsn = self.settings.database_url
        if not dsn:
            pgdata = self.home / "pgdata"
            child = embedded.start_postgres(pgdata, self.logs)
            self.infra.append(
                Supervised(child, lambda port: embedded.start_postgres(pgdata, self.logs, port))
            )
            dsn = child.url
            log.info("embedded PostgreSQL listening on %s", dsn)
        asyncio.run(self._prepare(bootstrap, dsn))
        _write_addresses(self.home, bootstrap, dsn)
        env = {
            **os.environ,
            **self.extra_env,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "DATABASE_URL": dsn,
            "CUBE_HOME": str(self.home),
            "CUBE_HTTP_HOST": self.settings.cube_http_host,
            "CUBE_HTTP_PORT": str(self.settings.cube_http_port),
            # The planner and every month-worker share the claude engine's global call limit.
            "CUBE_CLAUDE_PROCESSES": str(self.workers + 1),
        }
        for name in SERVICES:
            copies = self.workers if name == "month-worker" else 1
            for i in range(copies):
                label = f"{name}-{i + 1}" if copies > 1 else name
                module = "cube_" + name.replace("-", "_")
                svc = Service(label, module, env, self.logs / f"{label}.log", extra={"CUBE_WORKER_ID": label})
                svc.start()
                self.services.append(svc)
                log.info("started %s (pid %s)", label, svc.pid)

    async def _prepare(self, bootstrap: str, dsn: str) -> None:
        applied = await db.migrate(dsn)
        created = await kafka.ensure_topics(bootstrap)
        log.info("database ready (%d migrations applied), %d topics created", len(applied), len(created))

    def wait_ready(self, interrupted: Callable[[], bool]) -> bool:
        """True once /readyz answers 200; False if interrupted first."""
        deadline = time.monotonic() + self.settings.cube_ready_timeout
        while time.monotonic() < deadline:
            if interrupted():
                return False
            self.supervise_once()
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    # The gateway answers; the pipeline is ready once every consumer holds partitions.
                    services = httpx.get(f"{self.url}/api/pipeline", timeout=1.0).json()["services"]
                    if all(n > 0 for n in services.values()) and services["month-worker"] >= self.workers:
                        return True
            time.sleep(0.1)
        raise ConfigError(
            f"CUBE_READY_TIMEOUT: the gateway was not ready within {self.settings.cube_ready_timeout:.0f} s;"
            f" see {self.logs}"
        )

    def supervise_infra(self) -> None:
        """Start the embedded broker or database again if it exited, on the same port (the
        database on the same data folder); a restarted broker gets its topics back."""
        for sup in self.infra:
            if self.stopping:
                return
            now = time.monotonic()
            if sup.child.proc.poll() is not None and sup.next_start == 0.0:
                log.warning(
                    "embedded %s (pid %s) exited with %s; starting it again on port %d",
                    sup.child.name,
                    sup.child.proc.pid,
                    sup.child.proc.returncode,
                    sup.child.port,
                )
                sup.next_start = now  # at once: every service waits on it
            if sup.next_start and now >= sup.next_start:
                try:
                    sup.child = sup.relaunch(sup.child.port)
                except ConfigError as exc:
                    # e.g. the killed server's last backends still hold its shared memory
                    sup.failures += 1
                    delay = min(10.0, 0.5 * 2**sup.failures)
                    sup.next_start = now + delay
                    log.warning("embedded %s did not start (%s); again in %.1f s", sup.child.name, exc, delay)
                    continue
                sup.restarts += 1
                sup.failures = 0
                sup.next_start = 0.0
                sup.topics_missing = sup.child.name == "broker"  # Tansu keeps topics in memory only
                log.info(
                    "embedded %s back on port %d (pid %s, restart %d)",
                    sup.child.name,
                    sup.child.port,
                    sup.child.proc.pid,
                    sup.restarts,
                )
            if sup.topics_missing and sup.child.proc.poll() is None:
                try:
                    created = asyncio.run(restore_topics(sup.child.url))
                except Exception as exc:  # the broker is still settling: try again on the next pass
                    log.warning("topics not created yet (%r); trying again", exc)
                    continue
                sup.topics_missing = False
                log.info("%d topics created again on the restarted broker", len(created))

    def supervise_once(self) -> None:
        """Restart the embedded infrastructure and any service that died, with exponential backoff."""
        self.supervise_infra()
        now = time.monotonic()
        for svc in self.services:
            if svc.proc is None or svc.proc.poll() is None or self.stopping:
                continue
            if svc.next_start == 0.0:
                ran = now - svc.started_at
                if ran > 30:
                    svc.restarts = 0  # it had been healthy: start the backoff again from 1 s
                delay = min(30.0, 0.5 * 2**svc.restarts)
                svc.next_start = now + delay
                log.warning(
                    "%s (pid %s) exited with %s after %.1f s; restarting in %.1f s",
                    svc.name,
                    svc.pid,
                    svc.proc.returncode,
                    ran,
                    delay,
                )
            elif now >= svc.next_start:
                svc.restarts += 1
                svc.next_start = 0.0
                svc.start()
                log.info("restarted %s (pid %s, restart %d)", svc.name, svc.pid, svc.restarts)

    def stop(self) -> None:
        """Stop services in order, then the database and the broker; kill what lingers."""
        self.stopping = True
        deadline = time.monotonic() + STOP_TIMEOUT
        for svc in self.services:
            if svc.proc and svc.proc.poll() is None:
                svc.proc.send_signal(signal.SIGTERM)
            if svc.name == "gateway" and svc.proc:
                # Intake stops first: the pipeline services stop once the gateway is gone.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    svc.proc.wait(max(0.1, min(2.0, deadline - time.monotonic())))
        for svc in self.services:
            if svc.proc is None:
                continue
            try:
                svc.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", svc.name)
                svc.proc.kill()
                svc.proc.wait(2)
        for sup in reversed(self.infra):
            sup.child.stop(timeout=2.5)
        with contextlib.suppress(OSError):
            (self.home / ADDRESSES).unlink()
        log.info("stopped")


def up(workers: int | None = None) -> int:
    """Run the stack in the foreground until SIGINT/SIGTERM."""
    settings = load(LauncherSettings)
    stack = Stack(settings, workers or settings.cube_workers)
    stop_requested = False

    def _request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    started = time.monotonic()
    try:
        stack.start()
        if stack.wait_ready(lambda: stop_requested):
            print(f"Telling Cube is ready at {stack.url}  ({time.monotonic() - started:.1f} s)", flush=True)
            print(f"  logs: {stack.logs}    stop: Ctrl-C", flush=True)
        while not stop_requested:
            stack.supervise_once()
            time.sleep(0.2)
    finally:
        stack.stop()
    return 0
