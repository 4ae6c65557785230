"""Progress service settings: the projection, and the reconciler that watches every scenario."""

from pydantic import Field

from cube_runtime.settings import CubeSettings


class ProgressSettings(CubeSettings):
    """Environment of the progress service."""

    cube_reconcile_interval_s: float = Field(
        default=5.0, gt=0, le=3600, description="Seconds between two passes of the reconciler."
    )
    cube_stage_deadline_s: float = Field(
        default=30.0,
        gt=0,
        le=86400,
        description="Seconds a stage may go without progress before it is re-driven.",
    )
    cube_llm_stage_deadline_s: float = Field(
        default=240.0, gt=0, le=86400, description="The stage deadline of scenarios on the claude engine."
    )
    cube_progress_fetch_max_wait_ms: int = Field(
        default=50,
        ge=1,
        le=5000,
        description="Fetch wait of the status consumer: a status shows an event at most this much later."
        " It reads every partition of every pipeline topic, so a short wait is costly for the broker;"
        " the pipeline's own hops keep CUBE_FETCH_MAX_WAIT_MS.",
    )
    cube_redrive_limit: int = Field(
        default=3, ge=0, le=100, description="Re-drives of a stuck stage before its scenario fails."
    )
