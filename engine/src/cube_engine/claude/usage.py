"""Token and cost accounting per scenario and step, handed to the service that reports the step."""

import threading
from collections import OrderedDict
from uuid import UUID

from cube_contracts.model import LlmUsage

MAX_OPEN_STEPS = 10_000  # steps nobody collected are forgotten, oldest first, so memory stays bounded


class UsageBook:
    """Usage accumulated per (scenario, step); `pop` returns it and forgets it."""

    def __init__(self) -> None:
        self._open: OrderedDict[tuple[UUID, str], LlmUsage] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, scenario_id: UUID, step: str, usage: LlmUsage) -> None:
        key = (scenario_id, step)
        with self._lock:
            self._open[key] = self._open.pop(key, LlmUsage()) + usage
            while len(self._open) > MAX_OPEN_STEPS:
                self._open.popitem(last=False)

    def pop(self, scenario_id: UUID, step: str) -> LlmUsage:
        with self._lock:
            return self._open.pop((scenario_id, step), LlmUsage())

    def peek(self, scenario_id: UUID, step: str) -> LlmUsage:
        with self._lock:
            return self._open.get((scenario_id, step), LlmUsage())
