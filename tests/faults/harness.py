"""The fault-injection harness.

A case starts (or shares) a stack on its own embedded broker and PostgreSQL, posts scenarios
with fixed seeds, polls each one's status while it injects its fault, waits for every scenario
to reach a terminal status within a stated deadline, then checks each one against the clean
run of its seed:

- the expected outcome (completed; or failed / cancelled, failed with a readable reason),
- `event_count` equals the clean run's number of business events,
- PostgreSQL holds exactly that many business events for it (no duplicates),
- `analytics.business-events` holds exactly those events, none of them twice, and nothing at
  all of a scenario that did not complete,
- its progress never went backwards, and its terminal status never changed afterwards.

Every case leaves a row (fault, scenarios in flight, outcome, time to recover) in `RESULTS`,
which tests/faults/conftest.py prints as a Markdown table at the end of the run.
"""

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from cube_contracts import ScenarioSpec
from cube_contracts.topics import (
    ANALYTICS_BUSINESS_EVENTS,
    MONTH_COMPLETED,
    MONTH_REQUESTED,
    PIPELINE_TOPICS,
    SCENARIO_REQUESTED,
)
from cube_engine.simulated import generate
from cube_runtime.embedded import Child, free_port
from cube_runtime.launcher import LauncherSettings, Service, Stack
from tests.helpers import TERMINAL

log = logging.getLogger("faults")

# Every fault stack: an engine that waits like the LLM (scaled by 1/100), so that faults land
# mid-stage, and a reconciler that re-drives a stage after 5 s without movement.
FAULT_ENV = {
    "CUBE_SIM_LATENCY": "seed-scaled",
    # Three months at once per worker: the months of a few scenarios take seconds, not 0.3 s, so
    # a fault injected once the first month is done always finds months in flight.
    "CUBE_MONTH_CONCURRENCY": "3",
    "CUBE_RECONCILE_INTERVAL_S": "1",
    "CUBE_STAGE_DEADLINE_S": "5",
}
PIPELINE = tuple(t.name for t in PIPELINE_TOPICS if t.name != ANALYTICS_BUSINESS_EVENTS)
# The topics each consumer group of the pipeline reads (group names without a prefix).
GROUP_TOPICS: dict[str, tuple[str, ...]] = {
    "planner": (SCENARIO_REQUESTED,),
    "month-worker": (MONTH_REQUESTED,),
    "validator": (MONTH_COMPLETED,),
    "progress": PIPELINE,
}


@dataclass
class Row:
    """One line of the summary table."""

    case: str
    fault: str
    in_flight: int
    outcome: str
    recover_s: float | None
    total_s: float


RESULTS: list[Row] = []


def markdown_table(rows: Iterable[Row]) -> list[str]:
    """The rows as a Markdown table."""
    lines = [
        "| case | fault | scenarios in flight | outcome | time to recover (s) | case time (s) |",
        "| --- | --- | ---: | --- | ---: | ---: |",
    ]
    for r in rows:
        recover = "-" if r.recover_s is None else f"{r.recover_s:.1f}"
        cells = [r.case, r.fault, str(r.in_flight), r.outcome, recover, f"{r.total_s:.1f}"]
        lines.append("| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |")
    return lines


# ---------------------------------------------------------------------------------------------
# The stack


class FaultStack:
    """The five services on an embedded broker and PostgreSQL of their own, supervised the way
    `cube up` supervises them (a service, or an embedded broker or database, that dies is
    restarted), so that a case may kill any of them without touching other tests."""

    def __init__(self, home: Path, workers: int = 2, **env: str) -> None:
        settings = LauncherSettings(
            cube_home=home,
            kafka_bootstrap_servers=None,
            database_url=None,
            cube_http_port=free_port(),
            cube_ready_timeout=120,
        )
        self.stack = Stack(settings, workers, extra_env={**FAULT_ENV, **env})
        self.bootstrap = ""
        self.dsn = ""
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.stack.url

    @property
    def logs(self) -> Path:
        return self.stack.logs

    def start(self) -> None:
        started = time.monotonic()
        self.stack.start()
        infra = {c.name: c for c in self.children()}
        self.bootstrap, self.dsn = infra["broker"].url, infra["postgres"].url
        if not self.stack.wait_ready(lambda: False):
            raise RuntimeError(f"stack not ready; logs in {self.logs}")
        self._thread = threading.Thread(target=self._supervise, name="fault-supervisor", daemon=True)
        self._thread.start()
        log.info(
            "fault stack ready in %.1f s at %s (logs %s)", time.monotonic() - started, self.url, self.logs
        )

    def _supervise(self) -> None:
        while not self._halt.wait(0.2):
            try:
                self.stack.supervise_once()
            except Exception:
                log.exception("supervising the stack failed")

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(5)
        # A process a case left stopped (SIGSTOP) could not handle the SIGTERM of stop().
        for proc in [s.proc for s in self.stack.services] + [c.proc for c in self.children()]:
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGCONT)
        self.stack.stop()
        if os.environ.get("CUBE_TEST_SHOW_LOGS"):
            for path in sorted(self.logs.glob("*.log")):
                print(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")

    def service(self, name: str) -> Service:
        """The supervised service process called `name` (e.g. `planner`, `month-worker-1`)."""
        for svc in self.stack.services:
            if svc.name == name:
                return svc
        raise KeyError(f"no service {name!r}; have {[s.name for s in self.stack.services]}")

    def children(self) -> list[Child]:
        """The embedded broker and database as the launcher knows them now (a supervised child
        is replaced by a new one when the launcher starts it again)."""
        return [getattr(entry, "child", entry) for entry in self.stack.infra]

    def infra_child(self, name: str) -> Child:
        """The embedded `broker` or `postgres` child as the launcher knows it now."""
        for child in self.children():
            if child.name == name:
                return child
        raise KeyError(f"no embedded {name!r}")

    def signal_service(self, name: str, sig: signal.Signals) -> int:
        svc = self.service(name)
        assert svc.proc is not None and svc.proc.poll() is None, f"{name} is not running"
        os.kill(svc.proc.pid, sig)
        log.warning("sent %s to %s (pid %s)", sig.name, name, svc.proc.pid)
        return svc.proc.pid

    def signal_infra(self, name: str, sig: signal.Signals) -> int:
        child = self.infra_child(name)
        assert child.proc.poll() is None, f"embedded {name} is not running"
        os.kill(child.proc.pid, sig)
        log.warning("sent %s to embedded %s (pid %s)", sig.name, name, child.proc.pid)
        return child.proc.pid


@contextlib.contextmanager
def fault_stack(home: Path, workers: int = 2, **env: str) -> Iterator[FaultStack]:
    """A started FaultStack, stopped (with its broker and database) on exit."""
    fs = FaultStack(home, workers, **env)
    try:
        fs.start()
        yield fs
    finally:
        fs.stop()


# ---------------------------------------------------------------------------------------------
# A run: scenarios posted, polled while the fault happens, then checked


@dataclass
class Tracked:
    """A scenario of a run and every status view the poller saw."""

    sid: str
    body: dict[str, Any]
    expect: str
    error_contains: str | None = None
    views: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    terminal_at: float | None = None
    poll_errors: int = 0

    @property
    def last(self) -> dict[str, Any]:
        return self.views[-1][1] if self.views else {}

    @property
    def status(self) -> str:
        return str(self.last.get("status", "?"))

    @property
    def stage(self) -> str:
        return str(self.last.get("current_stage", "?"))

    @property
    def months_done(self) -> int:
        return int(self.last.get("months_done") or 0)

    @property
    def terminal(self) -> bool:
        return self.terminal_at is not None

    def describe(self) -> str:
        v = self.last
        return (
            f"{self.sid[:8]} {self.body.get('business_type')}/{self.body.get('seed')}: {v.get('status')}"
            f" {v.get('current_stage')} {v.get('progress')}% months {v.get('months_done')}"
            f" error={v.get('error_message')!r} (expected {self.expect})"
        )


def body(business_type: str, seed: int, **extra: Any) -> dict[str, Any]:
    """A small scenario with a fixed seed."""
    return {"business_type": business_type, "seed": seed, "scale": 0.1, **extra}


class Run:
    """Scenarios of one case on one stack; use as `async with Run(...) as run:`."""

    def __init__(self, fs: FaultStack, case: str, poll_interval: float = 0.1) -> None:
        self.fs, self.case = fs, case
        self.poll_interval = poll_interval
        self.client = httpx.AsyncClient(base_url=fs.url, timeout=15)
        self.tracked: dict[str, Tracked] = {}
        self.faults: list[str] = []
        self.fault_at: float | None = None
        self.in_flight = 0
        self.outcome = ""
        self.started = time.monotonic()
        self._poller: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Run":
        self._poller = asyncio.create_task(self._poll(), name=f"poll {self.case}")
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        await self.client.aclose()
        if exc is not None:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            outcome = f"FAIL: {first[:140]}"
        else:
            outcome = f"pass ({self.outcome})" if self.outcome else "pass"
        RESULTS.append(
            Row(
                self.case,
                "; ".join(self.faults) or "none",
                self.in_flight,
                outcome,
                self.recovered_in(),
                time.monotonic() - self.started,
            )
        )

    def recovered_in(self) -> float | None:
        """Seconds from the (first) fault to the last scenario reaching a terminal status."""
        if self.fault_at is None or not self.tracked or not all(t.terminal for t in self.tracked.values()):
            return None
        return max(0.0, max(t.terminal_at or 0.0 for t in self.tracked.values()) - self.fault_at)

    # -- polling

    def record(self, t: Tracked, view: dict[str, Any]) -> None:
        """A view of `t` seen now (by the poller, or in the answer to a POST)."""
        now = time.monotonic()
        t.views.append((now, view))
        if view.get("status") in TERMINAL and t.terminal_at is None:
            t.terminal_at = now

    async def _get(self, t: Tracked) -> None:
        try:
            resp = await self.client.get(f"/api/scenarios/{t.sid}")
        except httpx.HTTPError:
            t.poll_errors += 1
            return
        if resp.status_code != 200:
            t.poll_errors += 1
            return
        self.record(t, resp.json())

    async def _poll(self) -> None:
        slots = asyncio.Semaphore(8)

        async def one(t: Tracked) -> None:
            async with slots:
                await self._get(t)

        while True:
            open_ = [t for t in self.tracked.values() if not t.terminal]
            if open_:
                await asyncio.gather(*(one(t) for t in open_))
            await asyncio.sleep(self.poll_interval)

    # -- posting

    async def post(
        self, spec: dict[str, Any], expect: str = "completed", error_contains: str | None = None
    ) -> Tracked:
        """POST a scenario; it must be accepted with 202."""
        resp = await self.client.post("/api/scenarios", json=spec)
        assert resp.status_code == 202, f"POST {spec}: {resp.status_code} {resp.text[:300]}"
        view = resp.json()
        t = Tracked(view["scenario_id"], spec, expect, error_contains)
        self.record(t, view)
        self.tracked[t.sid] = t
        return t

    async def post_many(self, specs: list[dict[str, Any]], expect: str = "completed") -> list[Tracked]:
        slots = asyncio.Semaphore(10)

        async def one(spec: dict[str, Any]) -> Tracked:
            async with slots:
                return await self.post(spec, expect)

        return list(await asyncio.gather(*(one(s) for s in specs)))

    # -- waiting and faults

    def describe(self) -> str:
        return "\n".join(t.describe() for t in self.tracked.values())

    async def wait_for(self, ready: Callable[[], bool], timeout: float, what: str) -> float:
        """Wait until `ready()`; returns the seconds it took."""
        started = time.monotonic()
        while not ready():
            if time.monotonic() - started > timeout:
                raise AssertionError(
                    f"{what}: not within {timeout:.0f} s\n{self.describe()}\nlogs: {self.fs.logs}"
                )
            await asyncio.sleep(0.02)
        return time.monotonic() - started

    def fault(self, label: str) -> None:
        """Note that a fault is injected now (the first one starts the recovery clock)."""
        if self.fault_at is None:
            self.fault_at = time.monotonic()
            self.in_flight = sum(1 for t in self.tracked.values() if not t.terminal)
        self.faults.append(label)
        log.warning("fault injected: %s (%d scenarios in flight)", label, self.in_flight)

    async def wait_terminal(self, deadline: float) -> float:
        """Every scenario reaches a terminal status within `deadline` seconds."""
        return await self.wait_for(
            lambda: all(t.terminal for t in self.tracked.values()),
            deadline,
            f"{self.case}: every scenario terminal",
        )

    # -- checks

    async def verify(self, only: Iterable[Tracked] | None = None) -> None:
        """Check every scenario (or `only` those) against the clean run of its seed."""
        chosen = list(only) if only is not None else list(self.tracked.values())
        published = await published_events(self.fs.bootstrap)
        problems: list[str] = []
        finals: Counter[str] = Counter()
        conn = await asyncpg.connect(self.fs.dsn)
        try:
            for t in chosen:
                resp = await self.client.get(f"/api/scenarios/{t.sid}")
                assert resp.status_code == 200, f"GET {t.sid}: {resp.status_code} {resp.text[:200]}"
                final = resp.json()
                finals[final["status"]] += 1
                problems += await self._check(conn, t, final, published.get(t.sid, Counter()))
        finally:
            await conn.close()
        self.outcome = ", ".join(f"{n} {s}" for s, n in sorted(finals.items()))
        assert not problems, "\n".join(problems) + f"\nlogs: {self.fs.logs}"

    async def _check(
        self, conn: asyncpg.Connection, t: Tracked, final: dict[str, Any], published: Counter[str]
    ) -> list[str]:
        name = f"{t.sid[:8]} ({t.body.get('business_type')}/{t.body.get('seed')})"
        problems = []
        first_terminal = next((v["status"] for _, v in t.views if v.get("status") in TERMINAL), None)
        if first_terminal is not None and final["status"] != first_terminal:
            problems.append(f"{name}: was {first_terminal}, later {final['status']}")
        if final["status"] != t.expect:
            problems.append(
                f"{name}: {final['status']} in {final.get('current_stage')}, expected {t.expect};"
                f" error_message={final.get('error_message')!r}"
            )
        progress = [v["progress"] for _, v in t.views if "progress" in v] + [final["progress"]]
        backwards = [(a, b) for a, b in itertools.pairwise(progress) if b < a]
        if backwards:
            problems.append(f"{name}: progress went backwards {backwards[:3]} in {progress}")
        twice = {e: n for e, n in published.items() if n > 1}
        if twice:
            problems.append(f"{name}: {len(twice)} business events published more than once")
        if t.expect == "completed":
            expected = await expected_events(conn, t.sid)
            if final.get("event_count") != expected:
                problems.append(f"{name}: event_count {final.get('event_count')}, clean run {expected}")
            rows = await conn.fetch(
                "SELECT event_id, month, seq FROM business_events WHERE scenario_id = $1", UUID(t.sid)
            )
            stored = {str(r["event_id"]) for r in rows}
            slots = {(r["month"], r["seq"]) for r in rows}
            if not len(rows) == len(slots) == expected:
                problems.append(
                    f"{name}: database holds {len(rows)} events ({len(slots)} distinct month/seq),"
                    f" clean run {expected}"
                )
            if len(published) != expected:
                problems.append(
                    f"{name}: analytics topic holds {len(published)} distinct events, clean run {expected}"
                )
            elif set(published) != stored:
                problems.append(f"{name}: analytics topic and database hold different event ids")
        else:
            if t.expect == "failed":
                message = final.get("error_message") or ""
                if not message.strip():
                    problems.append(f"{name}: failed without an error_message")
                elif t.error_contains and t.error_contains not in message:
                    problems.append(f"{name}: error_message {message!r} does not name {t.error_contains!r}")
            if published:
                problems.append(f"{name}: {len(published)} events of a {final['status']} scenario published")
        return problems


# ---------------------------------------------------------------------------------------------
# The clean run, the database and the topics


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record of `topic`, from the beginning to the end offsets, without a consumer group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False)
    await consumer.start()
    try:
        if topic not in await consumer.topics():  # also refreshes the metadata
            return []
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        records: list[Any] = []
        while True:
            behind = [tp for tp in parts if await consumer.position(tp) < end[tp]]
            if not behind:
                return records
            batch = await consumer.getmany(*behind, timeout_ms=500)
            for recs in batch.values():
                # Not cut at the end offsets: Tansu numbers the records of a batch its own way.
                records += recs
    finally:
        await consumer.stop()


_CLEAN: dict[str, int] = {}


async def expected_events(conn: asyncpg.Connection, sid: str) -> int:
    """Business events of the clean, in-process run of the spec the gateway stored for `sid`."""
    raw = await conn.fetchval("SELECT spec FROM scenarios WHERE scenario_id = $1", UUID(sid))
    assert raw is not None, f"scenario {sid} is not in the scenarios table"
    spec = ScenarioSpec.model_validate(json.loads(raw) if isinstance(raw, str) else raw)
    key = spec.model_dump_json()
    if key not in _CLEAN:
        _, _, months = await asyncio.to_thread(generate, spec, UUID(sid))
        _CLEAN[key] = sum(len(m) for m in months)
    return _CLEAN[key]


async def published_events(bootstrap: str) -> dict[str, Counter[str]]:
    """scenario id -> how often each business event id is on the analytics topic."""
    published: dict[str, Counter[str]] = defaultdict(Counter)
    for record in await read_topic(bootstrap, ANALYTICS_BUSINESS_EVENTS):
        published[record.key.decode()][json.loads(record.value)["event_id"]] += 1
    return published


def scenario_of(record: Any) -> str | None:
    """The scenario a pipeline record belongs to: its scenario_id header, else its key."""
    for k, v in record.headers or ():
        if k == "scenario_id":
            return bytes(v).decode()
    if record.key:
        return bytes(record.key).decode().split(":", 1)[0]
    return None


async def pipeline_records(bootstrap: str, sids: Iterable[str]) -> list[Any]:
    """Every record of the pipeline topics that belongs to one of `sids`."""
    wanted = set(sids)
    found = []
    for topic in PIPELINE:
        found += [r for r in await read_topic(bootstrap, topic) if scenario_of(r) in wanted]
    return found


async def months_in_flight(bootstrap: str, sids: Iterable[str]) -> dict[tuple[str, int], str]:
    """(scenario, month) -> worker, for every month started but not yet completed."""
    wanted = set(sids)
    started: dict[tuple[str, int], str] = {}
    done: set[tuple[str, int]] = set()
    for record in await read_topic(bootstrap, MONTH_COMPLETED):
        with contextlib.suppress(ValueError, KeyError):
            event = json.loads(record.value)
            key = (event["scenario_id"], event["month"])
            if event["scenario_id"] not in wanted:
                continue
            if event["event_type"] == "MonthStarted":
                started[key] = event["worker"]
            else:
                done.add(key)
    return {k: w for k, w in started.items() if k not in done}


async def republish(bootstrap: str, records: list[Any]) -> int:
    """Publish each record again: same topic, partition, key, value and headers."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(
                r.topic, r.value, key=r.key, partition=r.partition, headers=list(r.headers or ())
            )
            for r in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return len(records)


async def publish_raw(
    bootstrap: str, topic: str, value: bytes, key: bytes | None = None, headers: dict[str, str] | None = None
) -> None:
    """One message exactly as given, bypassing every contract."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value, key=key, headers=[(k, v.encode()) for k, v in (headers or {}).items()]
        )
    finally:
        await producer.stop()


async def group_lag(bootstrap: str, groups: dict[str, tuple[str, ...]] = GROUP_TOPICS) -> dict[str, int]:
    """Messages each consumer group has not committed yet, over the topics it reads."""
    servers = bootstrap.split(",")
    lag: dict[str, int] = {}
    for group, topics in groups.items():
        # A consumer that names the group but never subscribes: it reads the group's committed
        # offsets without joining it (aiokafka's admin client cannot decode Tansu's answer).
        consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer.topics()
            parts = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
            ends = await consumer.end_offsets(parts)
            lag[group] = 0
            for tp, end in ends.items():
                lag[group] += max(0, end - ((await consumer.committed(tp)) or 0))
        finally:
            await consumer.stop()
    return lag


async def wait_drained(bootstrap: str, timeout: float) -> float:
    """Wait until every pipeline consumer group has committed every message; returns the seconds."""
    started = time.monotonic()
    lag: dict[str, int] = {}
    while time.monotonic() - started < timeout:
        lag = await group_lag(bootstrap)
        if not any(lag.values()):
            return time.monotonic() - started
        await asyncio.sleep(0.25)
    raise AssertionError(f"consumer groups still behind after {timeout:.0f} s: {lag}")
