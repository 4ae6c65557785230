"""Planner settings."""

from pydantic import Field

from cube_engine.claude import ClaudeSettings
from cube_runtime.settings import CubeSettings


class PlannerSettings(CubeSettings, ClaudeSettings):
    """Environment of the planner."""

    cube_sim_latency: str = Field(default="0", description="`0` or `seed-scaled`: simulated LLM latency.")
    cube_planner_concurrency: int = Field(default=32, ge=1, le=512, description="Scenarios planned at once.")
