"""Month-worker settings."""

from pydantic import Field

from cube_engine.claude import ClaudeSettings
from cube_runtime.settings import CubeSettings


class WorkerSettings(CubeSettings, ClaudeSettings):
    """Environment of a month-worker."""

    cube_sim_latency: str = Field(default="0", description="`0` or `seed-scaled`: simulated LLM latency.")
    cube_month_concurrency: int = Field(default=32, ge=1, le=512, description="Months rendered at once.")
    cube_month_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries of a month that failed, with backoff, before MonthFailed.",
    )
    cube_month_timeout_s: float = Field(
        default=300.0, gt=0, le=3600, description="Seconds one try of a month may take."
    )
    cube_worker_id: str = Field(
        default="month-worker", description="Name of this process in logs and events."
    )
