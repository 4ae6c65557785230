"""Fixtures of the fault-injection suite, and its summary table.

`make test` runs the fast cases (marker `faults`); `make test-faults` runs all of them,
including those marked `faults_full`.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import RESULTS, FaultStack, fault_stack, markdown_table


@pytest.fixture(scope="session")
def shared_fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    """One stack on its own broker and database for the cases that kill or pause services
    (the launcher restarts them), poison topics or cancel: each case checks only its own scenarios."""
    with fault_stack(tmp_path_factory.mktemp("faults-shared"), workers=2) as fs:
        yield fs


@pytest.fixture
def own_fault_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FaultStack]:
    """A stack of the case's own, for faults that kill the broker or the database or that leave
    a backlog behind; parametrize it indirectly with a dict of extra environment."""
    env: dict[str, str] = getattr(request, "param", None) or {}
    with fault_stack(tmp_path / "stack", workers=2, **env) as fs:
        yield fs


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    terminalreporter.section("fault injection")
    for line in markdown_table(RESULTS):
        terminalreporter.write_line(line)
