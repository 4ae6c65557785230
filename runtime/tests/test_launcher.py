"""`cube up` as a user runs it: ready, self-healing, and leaves nothing behind."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from cube_runtime.embedded import free_port
from cube_runtime.launcher import Stack

pytestmark = [pytest.mark.connected, pytest.mark.slow]


def _wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            seen.append(line)
            if needle in line:
                return line
        elif proc.poll() is not None:
            break
        else:
            time.sleep(0.05)
    raise AssertionError(f"{needle!r} not printed; output:\n{''.join(seen)}")


def _service_pids(launcher: psutil.Process) -> dict[str, int]:
    pids = {}
    for child in launcher.children():
        try:
            cmd = child.cmdline()
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue  # killed a moment ago, not yet reaped by the launcher
        if "-m" in cmd:
            pids.setdefault(cmd[cmd.index("-m") + 1], child.pid)
    return pids


def test_up_ready_restart_and_clean_stop(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    env.update(CUBE_HOME=str(tmp_path / "home"), CUBE_HTTP_PORT=str(port), CUBE_WORKERS="2")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cube_runtime.cli", "up"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    launcher = psutil.Process(proc.pid)
    try:
        line = _wait_for_line(proc, "ready at", 120)
        print(f"ready in {time.monotonic() - started:.1f} s: {line.strip()}")
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        everything = launcher.children(recursive=True)
        services = _service_pids(launcher)
        assert set(services) == {
            "cube_gateway",
            "cube_planner",
            "cube_month_worker",
            "cube_validator",
            "cube_progress",
        }
        assert sum("cube_month_worker" in " ".join(c.cmdline()) for c in launcher.children()) == 2

        os.kill(services["cube_planner"], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = _service_pids(launcher).get("cube_planner")
            if now and now != services["cube_planner"]:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the planner was not restarted")
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        everything += launcher.children(recursive=True)
    finally:
        stop_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        stopped_in = time.monotonic() - stop_at
    print(f"stopped in {stopped_in:.1f} s")
    assert stopped_in < 10
    survivors = [p for p in everything if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert survivors == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "CUBE_HOME": str(tmp_path), "CUBE_HTTP_PORT": str(port)}
        result = subprocess.run(
            [sys.executable, "-m", "cube_runtime.cli", "up"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == [
        f"cube: error: CUBE_HTTP_PORT: cannot listen on 127.0.0.1:{port} (Address already in use)"
    ]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"KAFKA_BOOTSTRAP_SERVERS": "not a broker"}, "cube: error: KAFKA_BOOTSTRAP_SERVERS: "),
        (
            {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/postgres"},
            "cube: error: DATABASE_URL: cannot connect",
        ),
        ({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, "cube: error: KAFKA_BOOTSTRAP_SERVERS: cannot reach"),
    ],
)
def test_bad_configuration_is_one_line_naming_the_setting(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    full = {**os.environ, "CUBE_HOME": str(tmp_path), "CUBE_HTTP_PORT": str(free_port()), **env}
    result = subprocess.run(
        [sys.executable, "-m", "cube_runtime.cli", "up"], env=full, capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("cube: error")]
    assert len(errors) == 1 and errors[0].startswith(expected), result.stderr[-2000:]
    assert "Traceback" not in result.stderr


# How long a restart of the embedded infrastructure may take, start to answering again.
BROKER_BACK_WITHIN = 30.0
DATABASE_BACK_WITHIN = 60.0
SCENARIO_WITHIN = 90.0


def _supervise_until(stack: Stack, check: Callable[[], bool], timeout: float, what: str) -> float:
    """Run the launcher's supervision loop until `check` holds; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        stack.supervise_once()
        with contextlib.suppress(Exception):
            if check():
                return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout:.0f} s; logs in {stack.logs}")


def _ready(url: str) -> bool:
    return httpx.get(f"{url}/readyz", timeout=2).status_code == 200


def test_embedded_broker_and_database_come_back_on_their_ports(tmp_path: Path) -> None:
    from cube_contracts.topics import ALL_TOPICS
    from cube_runtime import kafka
    from cube_runtime.launcher import LauncherSettings, running_addresses

    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    settings = LauncherSettings(
        cube_home=tmp_path / "home",
        kafka_bootstrap_servers=None,  # embedded broker and database, whatever the environment says
        database_url=None,
        cube_http_port=free_port(),
        cube_ready_timeout=120,
    )
    stack = Stack(settings, 1)
    everything: list[psutil.Process] = []
    try:
        stack.start()
        assert stack.wait_ready(lambda: False)
        broker, database = stack.infra
        assert (broker.child.name, database.child.name) == ("broker", "postgres")
        bootstrap, dsn = broker.child.url, database.child.url
        assert running_addresses(stack.home) == (bootstrap, dsn)
        everything += me.children(recursive=True)

        old = broker.child.proc.pid
        os.kill(old, signal.SIGKILL)

        def broker_back() -> bool:
            found = asyncio.run(kafka.topic_partitions(bootstrap))
            return broker.child.proc.pid != old and all(
                found.get(t.name, 0) >= t.partitions for t in ALL_TOPICS
            )

        took = _supervise_until(stack, broker_back, BROKER_BACK_WITHIN, "the broker with every topic")
        print(f"broker back on {bootstrap} with {len(ALL_TOPICS)} topics in {took:.1f} s")
        assert broker.child.url == bootstrap and broker.restarts == 1
        took = _supervise_until(
            stack, lambda: _ready(stack.url), BROKER_BACK_WITHIN, "/readyz after the broker"
        )
        print(f"/readyz 200 again {took:.1f} s later")
        everything += me.children(recursive=True)

        old = database.child.proc.pid
        os.kill(old, signal.SIGKILL)
        took = _supervise_until(
            stack,
            lambda: database.child.proc.pid != old and _ready(stack.url),
            DATABASE_BACK_WITHIN,
            "/readyz after PostgreSQL",
        )
        print(f"PostgreSQL back on {dsn}, /readyz 200 in {took:.1f} s")
        assert database.child.url == dsn and database.restarts == 1
        everything += me.children(recursive=True)

        # The services reconnected (or were restarted): a scenario goes all the way through.
        with httpx.Client(base_url=stack.url, timeout=10) as client:
            created = client.post("/api/scenarios", json={"business_type": "bakery", "months": 12})
            assert created.status_code < 300, created.text
            sid = created.json()["scenario_id"]
            took = _supervise_until(
                stack,
                lambda: client.get(f"/api/scenarios/{sid}").json()["status"] == "completed",
                SCENARIO_WITHIN,
                "a scenario after both restarts",
            )
        print(f"a scenario completed in {took:.1f} s after both restarts")
        assert all(svc.proc is not None and svc.proc.poll() is None for svc in stack.services)
        everything += me.children(recursive=True)
    finally:
        stack.stop()
    assert running_addresses(stack.home) == (None, None)
    time.sleep(0.5)  # orphaned postgres backends exit on their own once their server is gone
    survivors = [
        p for p in everything if p.pid not in before and p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    ]
    assert survivors == []


def test_topics_a_reconnecting_client_made_too_small_are_made_again(tmp_path: Path) -> None:
    from aiokafka import AIOKafkaConsumer

    from cube_contracts.topics import ALL_TOPICS, MONTH_REQUESTED
    from cube_runtime import embedded, kafka
    from cube_runtime.launcher import restore_topics

    async def scenario(bootstrap: str) -> dict[str, int]:
        # Tansu creates a topic a client merely asks about, with 4 partitions.
        consumer = AIOKafkaConsumer(MONTH_REQUESTED, bootstrap_servers=bootstrap, group_id="early")
        await consumer.start()
        try:
            for _ in range(50):
                if MONTH_REQUESTED in await kafka.topic_partitions(bootstrap):
                    break
                await asyncio.sleep(0.1)
            assert (await kafka.topic_partitions(bootstrap))[MONTH_REQUESTED] < 24
            await restore_topics(bootstrap)
        finally:
            await consumer.stop()
        return await kafka.topic_partitions(bootstrap)

    broker = embedded.start_broker(tmp_path)
    try:
        found = asyncio.run(scenario(broker.url))
    finally:
        broker.stop()
    assert {t.name: found.get(t.name) for t in ALL_TOPICS} == {t.name: t.partitions for t in ALL_TOPICS}
