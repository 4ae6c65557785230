"""Scenario statuses, stages, their progress ranges and the messages users see."""

from enum import StrEnum


class Status(StrEnum):
    """Lifecycle status of a scenario."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (Status.COMPLETED, Status.FAILED, Status.CANCELLED)


class Stage(StrEnum):
    """Pipeline stage, in the order a scenario passes through them."""

    QUEUED = "queued"
    STARTING = "starting"
    MASTER_DATA = "stage1_generating"
    TRENDS = "stage2_trends"
    MONTHS = "stage3_months"
    STORING = "storing"
    VALIDATING = "validating"
    COMPLETED = "completed"

    @property
    def rank(self) -> int:
        return list(Stage).index(self)


# (low, high) progress of each stage; the frontend of the first version relies on these.
STAGE_PROGRESS: dict[Stage, tuple[int, int]] = {
    Stage.QUEUED: (0, 0),
    Stage.STARTING: (5, 5),
    Stage.MASTER_DATA: (10, 30),
    Stage.TRENDS: (35, 45),
    Stage.MONTHS: (50, 80),
    Stage.STORING: (85, 90),
    Stage.VALIDATING: (95, 95),
    Stage.COMPLETED: (100, 100),
}

STAGE_MESSAGES: dict[Stage, str] = {
    Stage.QUEUED: "Waiting for a planner to pick the scenario up",
    Stage.STARTING: "Starting the scenario",
    Stage.MASTER_DATA: "Creating the company, its catalogue, people and customers",
    Stage.TRENDS: "Planning the year: trends, seasons and what carries across months",
    Stage.MONTHS: "Writing the months' business events",
    Stage.STORING: "Storing the year",
    Stage.VALIDATING: "Checking that every number adds up",
    Stage.COMPLETED: "The year is ready",
}


def months_progress(months_done: int, months_total: int) -> int:
    """Progress inside stage 3: 50 with no month done, 80 with all of them."""
    low, high = STAGE_PROGRESS[Stage.MONTHS]
    if months_total <= 0:
        return low
    done = max(0, min(months_done, months_total))
    return low + (high - low) * done // months_total


def legacy_stage(stage: Stage, months_done: int, months_total: int) -> str:
    """The first version's `currentStage` name: stage3 counts the month being waited for."""
    if stage is Stage.MONTHS:
        return f"stage3_month_{min(months_done + 1, max(months_total, 1))}"
    return stage.value
