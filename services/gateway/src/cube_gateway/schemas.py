"""Request and response bodies of the HTTP API (names fixed by API.md)."""

import math
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cube_contracts import MAX_MONTHS, MAX_SCALE, MIN_SCALE, BusinessType, EngineName, LlmUsage


class ScenarioRequest(BaseModel):
    """POST /api/scenarios."""

    model_config = ConfigDict(extra="forbid")

    business_type: BusinessType = Field(description="bakery, hotel or tech_startup.")
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1, description="Seed; random when omitted.")
    engine: EngineName | None = Field(
        default=None, description="simulated or claude; CUBE_ENGINE when omitted."
    )
    months: int = Field(default=12, ge=1, le=MAX_MONTHS, description="Months to generate.")
    start_month: str = Field(default="2025-01", pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM.")
    scale: float = Field(default=1.0, ge=MIN_SCALE, le=MAX_SCALE, description="Size factor.")
    name: str | None = Field(default=None, min_length=1, max_length=120, description="Company name.")
    params: dict[str, Any] = Field(default_factory=dict, description="Business-type parameters.")

    @field_validator("params")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        # JSON parsing accepts NaN/Infinity, which would reach the planner as null and fail there.
        bad = sorted(k for k, v in value.items() if isinstance(v, float) and not math.isfinite(v))
        if bad:
            raise ValueError(f"parameter(s) {bad} must be finite numbers")
        return value


class LegacyGenerate(BaseModel):
    """POST /api/generate of the first version."""

    model_config = ConfigDict(extra="ignore")

    scenarioType: BusinessType = Field(description="bakery, hotel or tech_startup.")


class LegacyStarted(BaseModel):
    """The answer of POST /api/generate, with the first version's field names."""

    scenarioId: UUID
    status: str


class ValidationSummary(BaseModel):
    """The validation of a scenario in one glance."""

    passed: bool | None = Field(description="Whether every identity check held.")
    summary: str | None = Field(description="One line for a person.")
    checks: int = Field(description="Checks run.")
    failed: int = Field(description="Checks that failed (errors).")
    warnings: int = Field(description="Checks that warned.")


class ScenarioView(BaseModel):
    """GET /api/scenarios/{id}."""

    scenario_id: UUID
    business_type: BusinessType
    engine: EngineName
    seed: int
    months: int
    start_month: str
    scale: float
    name: str | None
    status: str
    progress: int = Field(ge=0, le=100)
    current_stage: str
    stage_message: str | None
    months_done: int
    months_total: int
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    event_count: int | None
    validation: ValidationSummary | None
    eta_seconds: float | None
    usage: LlmUsage | None
    timings: dict[str, Any]


class RetriedView(ScenarioView):
    """POST /api/scenarios/{id}/retry: the scenario, and what was queued again."""

    requeued: list[str] = Field(
        description='The work queued again: "month N" per month, or "plan", "validate", ...',
        examples=[["month 3", "month 7"]],
    )


class ScenarioList(BaseModel):
    """GET /api/scenarios."""

    items: list[ScenarioView]
    next_cursor: str | None


class EventPage(BaseModel):
    """GET /api/scenarios/{id}/events."""

    items: list[dict[str, Any]]
    next_cursor: str | None


class CheckView(BaseModel):
    """One validator check."""

    name: str
    passed: bool
    severity: str
    details: str


class ValidationView(BaseModel):
    """GET /api/scenarios/{id}/validation."""

    scenario_id: UUID
    passed: bool
    summary: str
    checks: list[CheckView]
    kpis: dict[str, Any]


class LegacyStatus(BaseModel):
    """GET /api/status/{scenarioId} with the first version's field names."""

    scenarioId: UUID
    status: str
    progress: int
    currentStage: str
    errorMessage: str | None


class Problem(BaseModel):
    """Every error: a readable reason."""

    detail: str
