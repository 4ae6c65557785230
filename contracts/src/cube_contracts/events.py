"""Pipeline events. Each one carries the envelope; they are past tense and evolve only by
adding optional fields with defaults."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from cube_contracts.model import LlmUsage, ScenarioSpec


def _now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Fields every pipeline event carries."""

    model_config = ConfigDict(extra="ignore")

    event_id: UUID = Field(
        default_factory=uuid4, description="Unique id of this event; consumers dedupe on it."
    )
    schema_version: int = Field(default=1, ge=1, description="Version of this event's schema.")
    scenario_id: UUID = Field(description="Scenario the event belongs to.")
    occurred_at: datetime = Field(default_factory=_now, description="When the producer emitted it (UTC).")
    producer: str = Field(description="Service that produced the event.", examples=["planner"])


class ScenarioRequested(Envelope):
    """A scenario was accepted by the gateway and should be planned."""

    event_type: Literal["ScenarioRequested"] = Field(default="ScenarioRequested", description="Event type.")
    spec: ScenarioSpec = Field(description="What to generate.")
    attempt: int = Field(default=1, ge=1, description="1 for the first run, more for a retry of planning.")


class PlanningStarted(Envelope):
    """The planner took the scenario up."""

    event_type: Literal["PlanningStarted"] = Field(default="PlanningStarted", description="Event type.")
    months_total: int = Field(ge=1, description="Months the scenario will have.")


class MasterDataGenerated(Envelope):
    """Stage 1 is done: master data is stored."""

    event_type: Literal["MasterDataGenerated"] = Field(
        default="MasterDataGenerated", description="Event type."
    )
    entity_counts: dict[str, int] = Field(default_factory=dict, description="Number of entities per kind.")
    duration_ms: int = Field(ge=0, description="Time the stage took.")
    usage: LlmUsage | None = Field(default=None, description="LLM usage of this step, when an LLM was used.")


class TrendsGenerated(Envelope):
    """Stage 2 is done: the monthly plan is stored and months are about to be requested."""

    event_type: Literal["TrendsGenerated"] = Field(default="TrendsGenerated", description="Event type.")
    months_total: int = Field(ge=1, description="Months requested.")
    duration_ms: int = Field(ge=0, description="Time the stage took.")
    usage: LlmUsage | None = Field(default=None, description="LLM usage of this step, when an LLM was used.")


class PlanningFailed(Envelope):
    """Planning could not complete."""

    event_type: Literal["PlanningFailed"] = Field(default="PlanningFailed", description="Event type.")
    reason: str = Field(description="What went wrong, for a person.")


class MonthRequested(Envelope):
    """One month to render, with everything it needs from the plan."""

    event_type: Literal["MonthRequested"] = Field(default="MonthRequested", description="Event type.")
    spec: ScenarioSpec = Field(description="The scenario's spec.")
    month: int = Field(ge=1, description="Month to render, 1-based.")
    months_total: int = Field(ge=1, description="Months in the scenario.")
    plan: dict[str, Any] = Field(description="The month's plan: trends and state carried across months.")
    attempt: int = Field(default=1, ge=1, description="Delivery attempt of this month.")


class MonthStarted(Envelope):
    """A month-worker began a month."""

    event_type: Literal["MonthStarted"] = Field(default="MonthStarted", description="Event type.")
    month: int = Field(ge=1, description="Month being rendered.")
    months_total: int = Field(ge=1, description="Months in the scenario.")
    worker: str = Field(description="Worker process that took it.")


class MonthCompleted(Envelope):
    """A month's business events are stored."""

    event_type: Literal["MonthCompleted"] = Field(default="MonthCompleted", description="Event type.")
    month: int = Field(ge=1, description="Month rendered.")
    months_total: int = Field(ge=1, description="Months in the scenario.")
    event_count: int = Field(ge=0, description="Business events stored for the month.")
    content_hash: str = Field(description="sha256 of the month's events, for determinism checks.")
    duration_ms: int = Field(ge=0, description="Time the month took.")
    usage: LlmUsage | None = Field(default=None, description="LLM usage of this step, when an LLM was used.")


class MonthFailed(Envelope):
    """A month could not be rendered."""

    event_type: Literal["MonthFailed"] = Field(default="MonthFailed", description="Event type.")
    month: int = Field(ge=1, description="Month that failed.")
    months_total: int = Field(ge=1, description="Months in the scenario.")
    reason: str = Field(description="What went wrong, for a person.")


class ValidationStarted(Envelope):
    """All months are in; the validator runs its checks."""

    event_type: Literal["ValidationStarted"] = Field(default="ValidationStarted", description="Event type.")


class ScenarioCompleted(Envelope):
    """The scenario is validated and its events are published."""

    event_type: Literal["ScenarioCompleted"] = Field(default="ScenarioCompleted", description="Event type.")
    event_count: int = Field(ge=0, description="Business events in the scenario.")
    warnings: int = Field(default=0, ge=0, description="Checks that raised a warning.")


class ScenarioFailed(Envelope):
    """The scenario ended without a validated year."""

    event_type: Literal["ScenarioFailed"] = Field(default="ScenarioFailed", description="Event type.")
    stage: str = Field(description="Stage it stopped in.")
    reason: str = Field(description="What went wrong and what to do, for a person.")


class ScenarioCancelled(Envelope):
    """The scenario was cancelled by a user."""

    event_type: Literal["ScenarioCancelled"] = Field(default="ScenarioCancelled", description="Event type.")
    reason: str = Field(default="cancelled by the user", description="Why.")


PlanningEvent = Annotated[
    PlanningStarted | MasterDataGenerated | TrendsGenerated | PlanningFailed,
    Field(discriminator="event_type"),
]
MonthResult = Annotated[MonthStarted | MonthCompleted | MonthFailed, Field(discriminator="event_type")]
LifecycleEvent = Annotated[
    ValidationStarted | ScenarioCompleted | ScenarioFailed | ScenarioCancelled,
    Field(discriminator="event_type"),
]
PipelineEvent = Annotated[
    ScenarioRequested
    | PlanningStarted
    | MasterDataGenerated
    | TrendsGenerated
    | PlanningFailed
    | MonthRequested
    | MonthStarted
    | MonthCompleted
    | MonthFailed
    | ValidationStarted
    | ScenarioCompleted
    | ScenarioFailed
    | ScenarioCancelled,
    Field(discriminator="event_type"),
]
pipeline_event = TypeAdapter(PipelineEvent)

EVENT_TYPES: tuple[type[Envelope], ...] = (
    ScenarioRequested,
    PlanningStarted,
    MasterDataGenerated,
    TrendsGenerated,
    PlanningFailed,
    MonthRequested,
    MonthStarted,
    MonthCompleted,
    MonthFailed,
    ValidationStarted,
    ScenarioCompleted,
    ScenarioFailed,
    ScenarioCancelled,
)


def derived_id(scenario_id: UUID, *parts: object) -> UUID:
    """A stable event id: a re-run of the same step emits the same id, so consumers dedupe it."""
    from uuid import uuid5

    return uuid5(scenario_id, ":".join(str(p) for p in parts))
