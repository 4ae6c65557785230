"""Topic names, partition counts and message keys of the pipeline."""

from dataclasses import dataclass
from uuid import UUID

SCENARIO_REQUESTED = "scenario.requested"
SCENARIO_PLANNING = "scenario.planning"
MONTH_REQUESTED = "month.requested"
MONTH_COMPLETED = "month.completed"
SCENARIO_LIFECYCLE = "scenario.lifecycle"
ANALYTICS_BUSINESS_EVENTS = "analytics.business-events"

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class TopicSpec:
    """A topic and the number of partitions it is created with."""

    name: str
    partitions: int
    description: str


# month.requested is keyed by `scenario_id:month` and has many partitions so that
# the twelve months of one scenario spread over every month-worker in the group.
PIPELINE_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(SCENARIO_REQUESTED, 6, "A scenario was accepted by the gateway."),
    TopicSpec(SCENARIO_PLANNING, 6, "Planning stages: started, master data, trends, failed."),
    TopicSpec(MONTH_REQUESTED, 24, "One message per month to render, keyed scenario_id:month."),
    TopicSpec(MONTH_COMPLETED, 6, "Month results: started, completed, failed."),
    TopicSpec(SCENARIO_LIFECYCLE, 6, "Validation and the terminal outcome of a scenario."),
    TopicSpec(ANALYTICS_BUSINESS_EVENTS, 6, "Every business event of a validated scenario."),
)


def dlq(topic: str) -> str:
    """Name of the dead-letter topic of `topic`."""
    return f"{topic}{DLQ_SUFFIX}"


ALL_TOPICS: tuple[TopicSpec, ...] = PIPELINE_TOPICS + tuple(
    TopicSpec(dlq(t.name), 1, f"Poison messages of {t.name}, with error headers.")
    for t in PIPELINE_TOPICS
    if t.name != ANALYTICS_BUSINESS_EVENTS
)


def scenario_key(scenario_id: UUID | str) -> bytes:
    """Key of every per-scenario message: the scenario id."""
    return str(scenario_id).encode()


def month_key(scenario_id: UUID | str, month: int) -> bytes:
    """Key of a MonthRequested: spreads the months of one scenario over partitions."""
    return f"{scenario_id}:{month}".encode()
