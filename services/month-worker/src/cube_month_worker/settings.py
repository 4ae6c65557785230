"""Month-worker settings."""

from pydantic import Field

from cube_engine.claude import ClaudeSettings
from cube_runtime.settings import CubeSettings


class WorkerSettings(CubeSettings, ClaudeSettings):
    """Environment of a month-worker."""

    cube_sim_latency: str = Field(default="0", description="`0` or `seed-scaled`: simulated LLM latency.")
    cube_month_concurrency: int = Field(default=32, ge=1, le=512, description="Months rendered at once.")
    cube_worker_id: str = Field(
        default="month-worker", description="Name of this process in logs and events."
    )
