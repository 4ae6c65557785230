"""The status projection as a pure function: (state, event) -> state.

Order-tolerant by construction: stage and progress only move forward, months are a set,
and a terminal status is final, so a late or replayed event never moves a scenario back.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cube_contracts import (
    STAGE_MESSAGES,
    STAGE_PROGRESS,
    Envelope,
    LlmUsage,
    MasterDataGenerated,
    MonthCompleted,
    MonthFailed,
    MonthRequested,
    MonthStarted,
    PlanningFailed,
    PlanningStarted,
    ScenarioCancelled,
    ScenarioCompleted,
    ScenarioFailed,
    ScenarioRequested,
    Stage,
    Status,
    TrendsGenerated,
    ValidationStarted,
    months_progress,
)


@dataclass(frozen=True)
class ScenarioState:
    """One row of the status table."""

    status: Status
    stage: Stage
    progress: int
    months_total: int
    months_seen: frozenset[int] = frozenset()
    error_message: str | None = None
    event_count: int | None = None
    timings: dict[str, Any] = field(default_factory=dict)
    completed_at: datetime | None = None
    usage: LlmUsage | None = None

    @property
    def months_done(self) -> int:
        return len(self.months_seen)

    @property
    def stage_message(self) -> str:
        if self.status is Status.FAILED:
            return f"Failed: {self.error_message}"
        if self.status is Status.CANCELLED:
            return "Cancelled"
        if self.stage is Stage.MONTHS:
            return f"{STAGE_MESSAGES[Stage.MONTHS]}: {self.months_done} of {self.months_total} months done"
        return STAGE_MESSAGES[self.stage]


def initial(months_total: int) -> ScenarioState:
    return ScenarioState(Status.QUEUED, Stage.QUEUED, 0, months_total)


def _advance(state: ScenarioState, stage: Stage, progress: int | None = None) -> ScenarioState:
    if stage.rank < state.stage.rank:
        return state
    target = STAGE_PROGRESS[stage][0] if progress is None else progress
    return replace(state, status=Status.PROCESSING, stage=stage, progress=max(state.progress, target))


def _mark(state: ScenarioState, name: str, at: datetime) -> ScenarioState:
    # The first time a milestone is seen wins, so replays do not rewrite the timings.
    if name in state.timings:
        return state
    return replace(state, timings={**state.timings, name: at.isoformat()})


def _spend(state: ScenarioState, event: Envelope, step: str) -> ScenarioState:
    """Add an LLM step's usage to the scenario's, and its API time to the step's timing."""
    usage = getattr(event, "usage", None)
    if usage is None:
        return state
    key = f"llm_{step}_ms"
    timings = {**state.timings, key: int(state.timings.get(key, 0)) + usage.latency_ms}
    return replace(state, usage=usage if state.usage is None else state.usage + usage, timings=timings)


def apply(state: ScenarioState, event: Envelope) -> ScenarioState:
    """The state after `event`."""
    if state.status.terminal:
        return state
    state = _spend(
        state,
        event,
        {"MasterDataGenerated": "master_data", "TrendsGenerated": "trends"}.get(
            getattr(event, "event_type", ""), "months"
        ),
    )
    at = event.occurred_at
    match event:
        case ScenarioRequested():
            return _mark(_advance(state, Stage.STARTING), "requested", at)
        case PlanningStarted():
            return _mark(_advance(state, Stage.MASTER_DATA), "planning_started", at)
        case MasterDataGenerated():
            return _mark(_advance(state, Stage.TRENDS), "master_data_done", at)
        case TrendsGenerated():
            return _mark(_advance(state, Stage.MONTHS), "trends_done", at)
        case MonthRequested() | MonthStarted():
            return _mark(_advance(state, Stage.MONTHS), "months_started", at)
        case MonthCompleted():
            seen = state.months_seen | {event.month}
            state = replace(state, months_seen=seen)
            if len(seen) >= state.months_total:
                return _mark(_advance(state, Stage.STORING), "months_done", at)
            return _advance(state, Stage.MONTHS, months_progress(len(seen), state.months_total))
        case MonthFailed():
            return state  # the validator decides whether a failed month fails the scenario
        case ValidationStarted():
            return _mark(_advance(state, Stage.VALIDATING), "validation_started", at)
        case ScenarioCompleted():
            done = _advance(state, Stage.COMPLETED)
            done = replace(done, status=Status.COMPLETED, event_count=event.event_count, completed_at=at)
            return _mark(done, "completed", at)
        case PlanningFailed() | ScenarioFailed():
            reason = event.reason
            return _mark(
                replace(state, status=Status.FAILED, error_message=reason, completed_at=at), "failed", at
            )
        case ScenarioCancelled():
            return _mark(
                replace(state, status=Status.CANCELLED, error_message=event.reason, completed_at=at),
                "cancelled",
                at,
            )
    return state
