"""`python -m cube_gateway` with bad settings: one line naming the setting, exit code 2."""

import os
import socket
import subprocess
import sys

import pytest

from cube_runtime.embedded import free_port


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CUBE_", "KAFKA_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-m", "cube_gateway"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"CUBE_HTTP_PORT": "abc"}, "CUBE_HTTP_PORT"),
        ({"DATABASE_URL": "postgresql://x@127.0.0.1:1/db"}, "KAFKA_BOOTSTRAP_SERVERS"),
        (
            {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "DATABASE_URL": "postgresql://x@127.0.0.1:1/db"},
            "DATABASE_URL",
        ),
    ],
)
def test_config_errors_are_one_line(env: dict[str, str], setting: str) -> None:
    done = _run(**env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cube-gateway: error: {setting}"), done.stderr


def test_busy_port_is_one_line() -> None:
    with socket.socket() as taken:
        port = free_port()
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = _run(
            CUBE_HTTP_PORT=str(port),
            KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",
            DATABASE_URL="postgresql://x@127.0.0.1:1/db",
        )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("cube-gateway: error: CUBE_HTTP_PORT"), done.stderr
