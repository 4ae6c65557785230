"""The public data model of a scenario: the request, master data and business events."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator


class BusinessType(StrEnum):
    """Kind of business a scenario simulates."""

    BAKERY = "bakery"
    HOTEL = "hotel"
    TECH_STARTUP = "tech_startup"


class EngineName(StrEnum):
    """Engine that makes a scenario."""

    SIMULATED = "simulated"
    CLAUDE = "claude"


MAX_MONTHS = 24
MIN_SCALE = 0.1
MAX_SCALE = 100.0


class ScenarioSpec(BaseModel):
    """Everything that determines a scenario's content; same spec, same data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    business_type: BusinessType = Field(description="Kind of business.", examples=["bakery"])
    seed: int = Field(ge=0, le=2**63 - 1, description="Seed of every random stream.", examples=[42])
    engine: EngineName = Field(default=EngineName.SIMULATED, description="Engine that makes the scenario.")
    months: int = Field(default=12, ge=1, le=MAX_MONTHS, description="Number of months to simulate.")
    start_month: str = Field(
        default="2025-01",
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="First simulated month, YYYY-MM.",
        examples=["2025-01"],
    )
    scale: float = Field(
        default=1.0,
        ge=MIN_SCALE,
        le=MAX_SCALE,
        description="Size factor: the number of events grows linearly with it.",
    )
    name: str | None = Field(default=None, max_length=120, description="Optional company name.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Business-type parameters (size, growth, currency, price level)."
    )

    @property
    def start(self) -> date:
        year, month = self.start_month.split("-")
        return date(int(year), int(month), 1)


class Company(BaseModel):
    """The simulated company."""

    id: str = Field(description="Stable id of the company.")
    name: str = Field(description="Company name.")
    business_type: BusinessType = Field(description="Kind of business.")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 currency of every amount.")
    founded: date = Field(description="Date the company was founded.")
    location: str = Field(description="City and country.")
    description: str | None = Field(default=None, description="A short story of the company.")


class Entity(BaseModel):
    """A master-data record: a stable id, a name and the rest as attributes."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(description="Stable id, referred to by business events.")
    name: str = Field(description="Display name.")


class MasterData(BaseModel):
    """Company and catalogue of a scenario. Lists that do not apply stay empty."""

    company: Company = Field(description="The company.")
    products: list[Entity] = Field(default_factory=list, description="Bakery products.")
    room_types: list[Entity] = Field(default_factory=list, description="Hotel room types.")
    rooms: list[Entity] = Field(default_factory=list, description="Hotel rooms.")
    plans: list[Entity] = Field(default_factory=list, description="Tech startup subscription plans.")
    customers: list[Entity] = Field(default_factory=list, description="Customers.")
    employees: list[Entity] = Field(default_factory=list, description="Employees.")
    suppliers: list[Entity] = Field(default_factory=list, description="Suppliers.")


REFERENCE_FIELDS = (
    "customer_id",
    "product_id",
    "room_id",
    "room_type_id",
    "plan_id",
    "employee_id",
    "supplier_id",
)


class BusinessEvent(BaseModel):
    """One business event; the value of `analytics.business-events` and a row of `/events`."""

    event_id: UUID = Field(description="Stable id of the event, the same everywhere.")
    scenario_id: UUID = Field(description="Scenario the event belongs to.")
    month: int = Field(ge=1, le=MAX_MONTHS, description="Month of the scenario, 1-based.")
    occurred_at: datetime = Field(description="When it happened, inside its month (ISO 8601).")
    event_type: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="snake_case kind, e.g. sale, booking.")
    amount: Decimal | None = Field(
        default=None,
        max_digits=14,
        decimal_places=2,
        description="Money in > 0, money out < 0, null when no money moves.",
    )
    currency: str | None = Field(default=None, description="ISO 4217 currency of the amount.")
    customer_id: str | None = Field(default=None, description="Customer, where one applies.")
    product_id: str | None = Field(default=None, description="Product, where one applies.")
    room_id: str | None = Field(default=None, description="Hotel room, where one applies.")
    room_type_id: str | None = Field(default=None, description="Hotel room type, where one applies.")
    plan_id: str | None = Field(default=None, description="Subscription plan, where one applies.")
    employee_id: str | None = Field(default=None, description="Employee, where one applies.")
    supplier_id: str | None = Field(default=None, description="Supplier, where one applies.")
    attributes: dict[str, Any] = Field(default_factory=dict, description="Everything else about the event.")

    @field_validator("amount")
    @classmethod
    def _two_places(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else value.quantize(Decimal("0.01"))

    @classmethod
    def trusted(cls, values: dict[str, Any]) -> "BusinessEvent":
        """An event from values that are known valid, every field present (a row read back, or the
        simulation's own output): like model_construct, without its per-field work, since a year
        is tens of thousands of events. `values` becomes the event's; do not reuse it."""
        if values.keys() != _EVENT_FIELDS:
            raise ValueError(
                f"expected the {len(_EVENT_FIELDS)} fields of a business event, got {sorted(values)}"
            )
        event = _new(cls)
        _set(event, "__dict__", values)
        _set(event, "__pydantic_fields_set__", set(_EVENT_FIELDS))
        _set(event, "__pydantic_extra__", None)
        _set(event, "__pydantic_private__", None)
        return event


_EVENT_FIELDS = frozenset(BusinessEvent.model_fields)
_new, _set = object.__new__, object.__setattr__


class CheckResult(BaseModel):
    """One validator check."""

    name: str = Field(description="Check name.")
    passed: bool = Field(description="Whether the check held.")
    severity: str = Field(default="error", description="`error` fails the scenario, `warning` does not.")
    details: str = Field(default="", description="What was found, precise enough to act on.")


class LlmUsage(BaseModel):
    """Tokens, estimated cost and time an engine spent on LLM calls."""

    calls: int = Field(default=0, ge=0, description="Messages API calls made, retries included.")
    input_tokens: int = Field(default=0, ge=0, description="Uncached input tokens.")
    output_tokens: int = Field(default=0, ge=0, description="Output tokens.")
    cache_creation_input_tokens: int = Field(
        default=0, ge=0, description="Input tokens written to the prompt cache."
    )
    cache_read_input_tokens: int = Field(
        default=0, ge=0, description="Input tokens read from the prompt cache."
    )
    cost_usd: float = Field(default=0.0, ge=0, description="Estimated cost in US dollars.")
    latency_ms: int = Field(default=0, ge=0, description="Wall time spent waiting on the API.")

    def __add__(self, other: "LlmUsage") -> "LlmUsage":
        return LlmUsage(
            calls=self.calls + other.calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 6),
            latency_ms=self.latency_ms + other.latency_ms,
        )
