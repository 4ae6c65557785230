"""What the model writes, as pydantic models: their JSON schemas are the tools' input schemas and
they validate every answer on the way in. Text, plus two market parameters the simulation clamps."""

import functools
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from cube_contracts.model import MAX_MONTHS, MasterData
from cube_engine.claude.params import bounds

TOOL_COMPANY = "write_company"
TOOL_YEAR = "write_year"
TOOL_MONTH = "write_month"
MAX_NOTABLE_PER_MONTH = 2
_LIMITS = bounds()


class EntityText(BaseModel):
    """A catalogue entry or supplier: its name and a line about it."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=80, description="Display name.")
    description: str = Field(min_length=1, max_length=300, description="One or two sentences about it.")


class PersonText(BaseModel):
    """A person (or, for a business customer, a company)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=80, description="Full name.")


class CompanyText(BaseModel):
    """The company's identity, and where it sits in its market."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=80, description="Company name.")
    story: str = Field(
        min_length=1,
        max_length=1500,
        description="A short story of the company: origin, character, reputation.",
    )
    price_level: float = Field(
        ge=_LIMITS["price_level"][0],
        le=_LIMITS["price_level"][1],
        description="Its prices relative to a typical business of its kind (1.0 = typical, 1.2 = premium); "
        "the simulation clamps it to its bounds.",
    )
    growth: float = Field(
        ge=_LIMITS["growth"][0],
        le=_LIMITS["growth"][1],
        description="Expected growth of demand over a year as a fraction (0.1 = ten percent more); "
        "the simulation clamps it to its bounds.",
    )


# Lists of master data the model names, and with what. Rooms keep their numbers ("Room 204").
TEXT_KINDS: dict[str, type[BaseModel]] = {
    "products": EntityText,
    "room_types": EntityText,
    "plans": EntityText,
    "suppliers": EntityText,
    "employees": PersonText,
    "customers": PersonText,
}


def company_schema(master: MasterData, max_named: int) -> type[BaseModel]:
    """The input model of write_company for this master data: one required field per entity id,
    so a complete answer names every entity (up to `max_named` per kind)."""
    named = tuple(
        (kind, tuple(e.id for e in getattr(master, kind)[:max_named]))
        for kind in TEXT_KINDS
        if getattr(master, kind)
    )
    return _company_schema(named)


@functools.lru_cache(maxsize=64)
def _company_schema(named: tuple[tuple[str, tuple[str, ...]], ...]) -> type[BaseModel]:
    """Made once per set of entity ids (master data of one kind and size share theirs)."""
    fields: dict[str, Any] = {"company": (CompanyText, Field(description="The company."))}
    for kind, ids in named:
        text = TEXT_KINDS[kind]
        per_id: dict[str, Any] = {f"e{i}": (text, Field(alias=eid)) for i, eid in enumerate(ids)}
        model = create_model(
            f"{kind.title().replace('_', '')}Text", __config__=ConfigDict(extra="ignore"), **per_id
        )
        fields[kind] = (model, Field(description=f"Text of each of the {kind}, keyed by id."))
    return create_model("CompanyDraft", __config__=ConfigDict(extra="ignore"), **fields)


class NotableKind(StrEnum):
    """Kinds of notable events a year can have."""

    LAUNCH = "launch"
    RENOVATION = "renovation"
    FUNDING_ROUND = "funding_round"
    BAD_REVIEW = "bad_review"
    GOOD_REVIEW = "good_review"
    PRESS = "press"
    AWARD = "award"
    PARTNERSHIP = "partnership"
    PROMOTION = "promotion"
    KEY_HIRE = "key_hire"
    DEPARTURE = "departure"
    SUPPLIER_ISSUE = "supplier_issue"
    OUTAGE = "outage"
    EXPANSION = "expansion"
    LOCAL_EVENT = "local_event"


class NotableDraft(BaseModel):
    """One notable event of the year, as planned."""

    model_config = ConfigDict(extra="ignore")

    month: int = Field(ge=1, le=MAX_MONTHS, description="Month of the scenario it happens in, 1-based.")
    kind: NotableKind = Field(description="What kind of event it is.")
    title: str = Field(min_length=1, max_length=100, description="A short title.")
    summary: str = Field(min_length=1, max_length=500, description="What happens, in one or two sentences.")


class YearDraft(BaseModel):
    """The year's arc and its notable events."""

    model_config = ConfigDict(extra="ignore")

    theme: str = Field(
        min_length=1, max_length=800, description="The arc of the year in two or three sentences."
    )
    notable_events: list[NotableDraft] = Field(
        min_length=1, max_length=2 * MAX_MONTHS, description="Notable events, a few across the year."
    )


class NotableText(BaseModel):
    """The month's telling of one of its notable events."""

    model_config = ConfigDict(extra="ignore")

    number: int = Field(
        ge=1, le=MAX_NOTABLE_PER_MONTH, description="Which of the month's notable events (1 = first listed)."
    )
    title: str = Field(min_length=1, max_length=100, description="Its title.")
    narrative: str = Field(min_length=1, max_length=1200, description="How it went, in a few sentences.")


class MonthDraft(BaseModel):
    """One month's narrative."""

    model_config = ConfigDict(extra="ignore")

    headline: str = Field(min_length=1, max_length=120, description="The month in one line.")
    narrative: str = Field(
        min_length=1, max_length=2000, description="The month's story, in a short paragraph."
    )
    notable_events: list[NotableText] = Field(
        max_length=MAX_NOTABLE_PER_MONTH, description="One entry per notable event listed for the month."
    )


def tool(name: str, model: type[BaseModel], description: str) -> dict[str, Any]:
    """A tool definition whose input schema is `model`'s JSON schema (made once per model; the
    caller must not change it)."""
    return _tool(name, model, description)


@functools.lru_cache(maxsize=128)
def _tool(name: str, model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"name": name, "description": description, "input_schema": model.model_json_schema()}


@functools.cache
def year_schema(months: int) -> type[YearDraft]:
    """YearDraft whose months are those of a `months`-long scenario."""
    notable = create_model(
        "NotableDraft",
        __base__=NotableDraft,
        month=(int, Field(ge=1, le=months, description="Month of the scenario it happens in, 1-based.")),
    )
    events = list[notable]  # type: ignore[valid-type]
    return create_model(
        "YearDraft",
        __base__=YearDraft,
        notable_events=(
            events,
            Field(min_length=1, max_length=2 * months, description="A few across the year."),
        ),
    )


@functools.cache
def story_tools(months: int) -> tuple[dict[str, Any], ...]:
    """The tools of the year and month calls: identical in every such call of a scenario, so the
    cached prefix (tools, system prompt, scenario context) is shared; tool_choice picks one."""
    return (
        tool(
            TOOL_YEAR, year_schema(months), "Record the plan of the year: its theme and its notable events."
        ),
        tool(TOOL_MONTH, MonthDraft, "Record one month's headline, narrative and notable events."),
    )
