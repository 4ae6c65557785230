"""The whole stack as real processes on the session's broker and database."""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cube_runtime.embedded import free_port
from cube_runtime.launcher import LauncherSettings, Stack
from cube_runtime.testing import Infra


@contextlib.contextmanager
def running_stack(infra: Infra, home: Path, workers: int = 2, **env: str) -> Iterator[Stack]:
    """Gateway, planner, `workers` month-workers, validator and progress, ready to serve."""
    settings = LauncherSettings(
        cube_home=home,
        kafka_bootstrap_servers=infra.bootstrap,
        database_url=infra.dsn,
        cube_http_port=free_port(),
        cube_ready_timeout=90,
    )
    # Stacks of one test session share a broker; each gets its own consumer groups, as separate
    # deployments on one Kafka would.
    stack = Stack(settings, workers, extra_env={"CUBE_GROUP_PREFIX": f"{home.name}.", **env})
    try:
        stack.start()
        assert stack.wait_ready(lambda: False), f"stack not ready; logs in {stack.logs}"
        yield stack
    finally:
        stack.stop()
        if os.environ.get("CUBE_TEST_SHOW_LOGS"):
            for log in sorted(stack.logs.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack with the engine's latency at 0."""
    with running_stack(infra, tmp_path_factory.mktemp("stack")) as s:
        yield s
