"""Settings of the claude engine. Field names are the environment variables, so a service's
settings class can inherit them (`class PlannerSettings(CubeSettings, ClaudeSettings)`)."""

import math

from pydantic import BaseModel, Field, SecretStr

from cube_contracts.model import LlmUsage

# Sonnet 4.6: current, not deprecated, takes forced tool use without thinking by default, $3/$15.
# Models that reject forced tool use (Sonnet 5.5, Opus 5.5, Fable 5.1) work too: see client.py.
DEFAULT_MODEL = "claude-sonnet-4-6"
MISSING_KEY = "ANTHROPIC_API_KEY is not set: the claude engine needs it"


class ClaudeSettings(BaseModel):
    """Environment of the claude engine (see API.md, "Configuration")."""

    anthropic_api_key: SecretStr | None = Field(default=None, description="API key of the Messages API.")
    anthropic_base_url: str | None = Field(
        default=None, description="Messages API base URL; tests point it at a local fake."
    )
    cube_claude_model: str = Field(default=DEFAULT_MODEL, description="Model that writes the text.")
    cube_claude_global_concurrency: int = Field(
        default=24,
        ge=1,
        le=4096,
        description="Messages API calls in flight across all processes; 24 lets the twelve month calls of a"
        " scenario run at once on two month-workers.",
    )
    cube_claude_processes: int = Field(
        default=3, ge=1, le=1024, description="Processes sharing the global limit (planner + month-workers)."
    )
    cube_claude_concurrency: int | None = Field(
        default=None, ge=1, le=4096, description="Calls in flight in this process; unset: global / processes."
    )
    cube_claude_timeout: float = Field(default=120.0, gt=0, le=900, description="Seconds one call may take.")
    cube_claude_max_attempts: int = Field(
        default=5, ge=1, le=20, description="Attempts of a call on 429/529/5xx/timeouts."
    )
    cube_claude_max_repairs: int = Field(
        default=2, ge=0, le=5, description="Extra calls to repair a truncated or invalid answer."
    )
    cube_claude_stream: bool = Field(default=False, description="Stream answers (SSE) instead of waiting.")

    def process_limit(self) -> int:
        """This process's share of the global limit: each process caps itself at global / processes,
        so together they never exceed the global limit without coordinating at run time."""
        if self.cube_claude_concurrency is not None:
            return self.cube_claude_concurrency
        return max(1, math.floor(self.cube_claude_global_concurrency / self.cube_claude_processes))


class LlmCallFailed(RuntimeError):
    """A Messages API call that still failed after its retries; the message says why, for a person."""

    def __init__(self, message: str, usage: LlmUsage | None = None) -> None:
        super().__init__(message)
        self.usage = usage or LlmUsage()  # what the failed attempts cost, still worth accounting
