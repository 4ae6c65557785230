"""The three calls the engine makes: the company (stage 1), the year (stage 2) and a month."""

import calendar
from typing import Any

from pydantic import BaseModel

from cube_contracts.model import MasterData, ScenarioSpec
from cube_engine.claude import numbers, params
from cube_engine.claude.client import ToolCall
from cube_engine.claude.numbers import Allowed, Ledger
from cube_engine.claude.prompts import catalogue_lines, scenario_context, system_blocks
from cube_engine.claude.schemas import (
    MAX_NOTABLE_PER_MONTH,
    TEXT_KINDS,
    TOOL_COMPANY,
    TOOL_MONTH,
    TOOL_YEAR,
    MonthDraft,
    YearDraft,
    company_schema,
    story_tools,
    tool,
    year_schema,
)

MAX_TOKENS_CAP = 16_000


def month_label(spec: ScenarioSpec, month: int) -> str:
    """'March 2025' for month 3 of a scenario starting 2025-01."""
    index = spec.start.year * 12 + spec.start.month - 1 + month - 1
    return f"{calendar.month_name[index % 12 + 1]} {index // 12}"


def company_call(spec: ScenarioSpec, master: MasterData, max_named: int) -> ToolCall[BaseModel]:
    """Stage 1: the company's identity and the text of its entities."""
    c = master.company
    counts = {kind: len(getattr(master, kind)) for kind in (*TEXT_KINDS, "rooms") if getattr(master, kind)}
    named = [kind for kind in TEXT_KINDS if getattr(master, kind)]
    fixed = f'The company is called "{spec.name}": use exactly that name.' if spec.name else ""
    if set(spec.params) & set(params.PROPOSED):
        fixed += f" The user fixed these parameters, so propose the same: {spec.params}."
    user = "\n".join(
        [
            f"Write the identity of a {spec.business_type.value.replace('_', ' ')} and the names of its "
            "entities, then call write_company.",
            "FACTS",
            f"location: {c.location}; currency: {c.currency}; founded: {c.founded.isoformat()}",
            f"scenario: {spec.months} months from {spec.start_month}",
            "sizes: " + ", ".join(f"{kind} {n}" for kind, n in counts.items()),
            fixed,
            "The entities to write, by id, with what the simulation knows of them (the current names are "
            "placeholders; keep their kind, category and role):",
            *catalogue_lines(master, named, limit=max_named),
        ]
    )
    people = sum(min(max_named, len(getattr(master, k))) for k in ("employees", "customers"))
    things = sum(min(max_named, len(getattr(master, k))) for k in named) - people
    allowed = company_allowed(spec, master)
    schema = company_schema(master, max_named)
    return ToolCall(
        label="master data",
        tool=TOOL_COMPANY,
        tools=[tool(TOOL_COMPANY, schema, "Record the company's identity and its entities' text.")],
        schema=schema,
        system=system_blocks(),
        user=user,
        max_tokens=min(MAX_TOKENS_CAP, 800 + 40 * people + 110 * things),
        check=lambda draft: company_problems(draft, allowed),
    )


def company_allowed(spec: ScenarioSpec, master: MasterData) -> Allowed:
    """Numbers the company's text may cite: master data's values and the sizes of its lists."""
    sizes = [len(getattr(master, kind)) for kind in (*TEXT_KINDS, "rooms")]
    return Ledger(master, sizes, spec.months)


def company_problems(draft: BaseModel, allowed: Allowed) -> list[str]:
    """Numbers that are not ledger values. A name used twice in a list is not worth a repair call
    on the critical path: the merge keeps the simulation's name for the second one."""
    fields: list[tuple[str, str]] = []
    for kind, value in draft:
        texts = value.model_dump(by_alias=True) if isinstance(value, BaseModel) else {}
        if kind == "company":
            fields += [(f"company.{k}", v) for k, v in texts.items() if isinstance(v, str)]
            continue
        fields += [(f"{kind}.{eid}.{k}", str(v)) for eid, t in texts.items() for k, v in t.items()]
    return numbers.problems(fields, allowed)


def year_call(spec: ScenarioSpec, master: MasterData, context: str | None = None) -> ToolCall[YearDraft]:
    """Stage 2: the year's theme and its notable events (`context`: the scenario context of
    `master`, if it is made already)."""
    months = "; ".join(f"{m} = {month_label(spec, m)}" for m in range(1, spec.months + 1))
    user = "\n".join(
        [
            "Plan the notable events of this scenario's year, then call write_year.",
            f"Months: {months}.",
            f"Use months 1 to {spec.months} only, at most {MAX_NOTABLE_PER_MONTH} events in a month, about "
            "one event for every two or three months, spread so the year has an arc.",
        ]
    )
    allowed = Ledger(master, spec.months)
    return ToolCall(
        label="trends",
        tool=TOOL_YEAR,
        tools=list(story_tools(spec.months)),
        schema=year_schema(spec.months),
        system=system_blocks(scenario_context(spec, master) if context is None else context),
        user=user,
        max_tokens=min(MAX_TOKENS_CAP, 500 + 160 * spec.months),
        check=lambda draft: year_problems(draft, allowed),
    )


def year_problems(draft: YearDraft, allowed: Allowed) -> list[str]:
    """Numbers that are not ledger values. Crowded months are trimmed by the merge, not repaired."""
    fields = [("theme", draft.theme)]
    for i, e in enumerate(draft.notable_events):
        fields += [(f"notable_events.{i}.title", e.title), (f"notable_events.{i}.summary", e.summary)]
    return numbers.problems(fields, allowed)


def month_call(
    spec: ScenarioSpec,
    month: int,
    story: dict[str, Any],
    facts: dict[str, str],
    allowed: Allowed,
    context: str,
) -> ToolCall[MonthDraft]:
    """A month's headline, narrative and the telling of its notable events; `context` is the
    scenario's scenario_context(spec, master), made once for all its months."""
    notable: list[dict[str, Any]] = story.get("notable", [])
    listed = [
        f"{i}. [{n['kind']}] {n['title']}: {n['summary']}"
        + (f" (ledger: {n['related']})" if n.get("related") else "")
        for i, n in enumerate(notable, start=1)
    ]
    user = "\n".join(
        [
            f"Write month {month} of {spec.months} ({month_label(spec, month)}), then call write_month.",
            f"The year's theme: {story.get('theme', '')}",
            "FACTS of the month (from the ledger):",
            *(f"- {k}: {v}" for k, v in facts.items()),
            "Notable events of the month:" if listed else "No notable events this month: give an empty list.",
            *listed,
        ]
    )
    return ToolCall(
        label=f"month {month}",
        tool=TOOL_MONTH,
        tools=list(story_tools(spec.months)),
        schema=MonthDraft,
        system=system_blocks(context),
        user=user,
        max_tokens=min(MAX_TOKENS_CAP, 700 + 400 * len(notable)),
        check=lambda draft: month_problems(draft, allowed),
    )


def month_problems(draft: MonthDraft, allowed: Allowed) -> list[str]:
    """Numbers that are not ledger values. Entries for events the month does not list are ignored."""
    fields = [("headline", draft.headline), ("narrative", draft.narrative)]
    for i, n in enumerate(draft.notable_events):
        fields += [(f"notable_events.{i}.title", n.title), (f"notable_events.{i}.narrative", n.narrative)]
    return numbers.problems(fields, allowed)
