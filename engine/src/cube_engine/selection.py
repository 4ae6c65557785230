"""The engine a scenario asked for, with its LLM usage per step."""

from uuid import UUID

from cube_contracts import EngineName, LlmUsage, ScenarioSpec
from cube_engine.base import Engine
from cube_engine.claude import MISSING_KEY, ClaudeEngine, ClaudeSettings, claude_engine_from
from cube_engine.simulated import SimulatedEngine


class Engines:
    """One engine of each kind per process (the claude engine holds one HTTP client)."""

    def __init__(self, latency: str, claude: ClaudeSettings | None = None) -> None:
        self.simulated = SimulatedEngine(latency=latency)
        has_key = claude is not None and claude.anthropic_api_key is not None
        self.claude: ClaudeEngine | None = claude_engine_from(claude) if has_key and claude else None

    def for_spec(self, spec: ScenarioSpec) -> Engine:
        if spec.engine is EngineName.CLAUDE:
            if self.claude is None:
                raise ValueError(MISSING_KEY)
            return self.claude
        return self.simulated

    def usage(self, spec: ScenarioSpec, scenario_id: UUID, step: str) -> LlmUsage | None:
        """What the step cost in LLM calls; None for the simulated engine."""
        if spec.engine is EngineName.CLAUDE and self.claude is not None:
            return self.claude.usage(scenario_id, step)
        return None
