"""`cube up` as a user runs it: ready, self-healing, and leaves nothing behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from cube_runtime.embedded import free_port

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
