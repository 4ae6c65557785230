"""Put what the model wrote into the simulated data: names by id, stories in descriptions, the year's
notable events into the month plans, a month's narrative into events that move no money."""

import calendar
import hashlib
import re
import unicodedata
from collections import defaultdict
from datetime import UTC, datetime, time, tzinfo
from typing import Any
from uuid import UUID

from cube_contracts.events import derived_id
from cube_contracts.model import BusinessEvent, Entity, MasterData, ScenarioSpec
from cube_engine.claude.numbers import Allowed, scrub, stray_numbers
from cube_engine.claude.schemas import MAX_NOTABLE_PER_MONTH, TEXT_KINDS, MonthDraft, YearDraft
from cube_engine.validation.text import TEXT_EVENT_TYPES

STORY_KEY = "story"  # the engine's part of a month plan; the simulation never sees it
PENDING = "pending"  # in STORY_KEY of an early plan: the story is being written
MASTER = "master"  # in STORY_KEY: fingerprint of the master data the plan was made from
# A notable event of this kind is told together with the simulated ledger event it explains.
RELATED_EVENT = {
    "funding_round": "funding_received",
    "key_hire": "hire",
    "departure": "departure",
    "supplier_issue": "purchase",
    "bad_review": "refund",
}


def _clean_name(text: str, fallback: str, allowed: Allowed) -> str:
    text = " ".join(text.split())
    return text if text and not stray_numbers(text, allowed) else fallback


def merge_master(master: MasterData, draft: Any, spec: ScenarioSpec, allowed: Allowed) -> MasterData:
    """Master data with the model's names and stories, matched by id; ids and numbers untouched."""
    company_text = draft.company
    company = master.company.model_copy(
        update={
            "name": spec.name or _clean_name(company_text.name, master.company.name, allowed),
            "description": scrub(company_text.story, allowed) or master.company.description,
        }
    )
    update: dict[str, Any] = {"company": company}
    for kind in TEXT_KINDS:
        texts = getattr(draft, kind, None)
        if texts is None:
            continue
        by_id: dict[str, dict[str, str]] = texts.model_dump(by_alias=True)
        used: set[str] = set()
        update[kind] = [_merge_entity(e, by_id.get(e.id), used, allowed) for e in getattr(master, kind)]
    return master.model_copy(update=update)


def _merge_entity(entity: Entity, text: dict[str, str] | None, used: set[str], allowed: Allowed) -> Entity:
    if text is None:
        return entity
    name = _clean_name(text["name"], entity.name, allowed)
    if name.lower() in used:  # a repeated name would make two entities indistinguishable
        name = entity.name
    used.add(name.lower())
    data = entity.model_dump()
    if isinstance(data.get("email"), str):
        data["email"] = _renamed_email(data["email"], entity.name, name)
    data["name"] = name
    if (description := scrub(text.get("description", ""), allowed)) != "":
        data["description"] = description
    return Entity.model_validate(data)


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return ".".join(re.findall(r"[a-z0-9]+", ascii_name))


def _renamed_email(email: str, old: str, new: str) -> str:
    """The address of a renamed person follows the name (jane.doe12@ becomes ana.ruiz12@)."""
    local, at, domain = email.partition("@")
    before, after = _slug(old), _slug(new)
    if not at or not before or not after or not local.startswith(before):
        return email
    return f"{after}{local[len(before) :]}@{domain}"


def merge_year(
    plans: list[dict[str, Any]],
    draft: YearDraft,
    spec: ScenarioSpec,
    allowed: Allowed,
    params: dict[str, Any],
    master: str = "",
) -> list[dict[str, Any]]:
    """Each month's plan with its share of the year's story (the theme, its notable events), the
    parameters the simulation ran with, which rendering the month needs again, and the
    fingerprint of the master data."""
    by_month: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in draft.notable_events:
        if event.month > spec.months or len(by_month[event.month]) >= MAX_NOTABLE_PER_MONTH:
            continue
        title = _clean_name(event.title, event.kind.value.replace("_", " ").capitalize(), allowed)
        by_month[event.month].append(
            {
                "kind": event.kind.value,
                "title": title,
                "summary": scrub(event.summary, allowed) or title,
            }
        )
    theme = scrub(draft.theme, allowed)
    return [
        {
            **plan,
            STORY_KEY: {"theme": theme, "notable": by_month.get(month, []), "params": params, MASTER: master},
        }
        for month, plan in enumerate(plans, start=1)
    ]


def link_related(notable: list[dict[str, Any]], events: list[BusinessEvent]) -> list[dict[str, Any]]:
    """Tie each notable event to the first simulated ledger event it explains, if the month has one."""
    taken: set[UUID] = set()
    linked = []
    for item in notable:
        wanted = RELATED_EVENT.get(item["kind"])
        match = next((e for e in events if e.event_type == wanted and e.event_id not in taken), None)
        item = dict(item)
        if match is not None:
            taken.add(match.event_id)
            item["related_event_id"] = str(match.event_id)
            amount = f" of {match.amount:,.2f} {match.currency}" if match.amount is not None else ""
            item["related"] = f"{match.event_type}{amount} on {match.occurred_at.date().isoformat()}"
            item["related_at"] = match.occurred_at.isoformat()
        linked.append(item)
    return linked


def month_events(
    scenario_id: UUID,
    spec: ScenarioSpec,
    month: int,
    draft: MonthDraft,
    notable: list[dict[str, Any]],
    theme: str,
    ledger: list[BusinessEvent],
    allowed: Allowed,
) -> list[BusinessEvent]:
    """A `narrative` event for the month and a `notable_event` per notable event; no amounts."""
    first, days = _month_span(spec, month, ledger[0].occurred_at.tzinfo if ledger else UTC)
    told = {n.number: n for n in draft.notable_events}
    out = [
        BusinessEvent(
            event_id=derived_id(scenario_id, "narrative", month),
            scenario_id=scenario_id,
            month=month,
            occurred_at=first,
            event_type=TEXT_EVENT_TYPES[0],
            attributes={
                "headline": _clean_name(draft.headline, f"Month {month}", allowed),
                "narrative": scrub(draft.narrative, allowed),
                "theme": theme,
                "source": "llm",
            },
        )
    ]
    for number, item in enumerate(notable, start=1):
        text = told.get(number)
        day = int(hashlib.sha256(f"{scenario_id}:{month}:{number}".encode()).hexdigest(), 16) % days
        attributes = {
            "kind": item["kind"],
            "title": _clean_name(text.title, item["title"], allowed) if text else item["title"],
            "summary": item["summary"],
            "narrative": (scrub(text.narrative, allowed) if text else "") or item["summary"],
            "source": "llm",
        }
        when = first.replace(day=1 + day, hour=9)
        if "related_event_id" in item:  # told on the day of the ledger event it explains
            attributes["related_event_id"] = item["related_event_id"]
            when = datetime.fromisoformat(item["related_at"])
        out.append(
            BusinessEvent(
                event_id=derived_id(scenario_id, "notable", month, number),
                scenario_id=scenario_id,
                month=month,
                occurred_at=when,
                event_type=TEXT_EVENT_TYPES[1],
                attributes=attributes,
            )
        )
    return out


def _month_span(spec: ScenarioSpec, month: int, tz: tzinfo | None) -> tuple[datetime, int]:
    index = spec.start.year * 12 + spec.start.month - 1 + month - 1
    year, month_of_year = divmod(index, 12)
    first = datetime.combine(datetime(year, month_of_year + 1, 1).date(), time(0), tzinfo=tz)
    return first, calendar.monthrange(year, month_of_year + 1)[1]
