"""The words sent to the model: one shared system prompt, a scenario context built only from master
data (so the planner and every month-worker send the same bytes and share the prompt cache), and a
short request per call."""

import json
import re
from typing import Any

from cube_contracts.model import MasterData, ScenarioSpec

CACHE = {"type": "ephemeral"}
_DATE = re.compile(r"\d{4}-\d{2}(-\d{2})?")

SYSTEM = """\
You are the storyteller of Telling Cube, a generator of realistic, internally consistent years of a \
business, used to practise and teach analytics, to demo BI tools and to test data pipelines. A \
deterministic simulation owns every number of the business: prices, quantities, revenue, costs, \
headcount, bookings, subscriptions and dates. You write what a simulation cannot: names, the \
company's story, the notable events of its year and the narrative of each month.

How to answer:
- Always answer by calling the tool you are asked to call, with an input that follows its schema \
exactly: every required field present, every string within its length limit, every enum value \
spelled as listed. Write no text outside the tool call.
- Keep to the facts you are given. Never invent amounts, counts, percentages, prices or dates. \
A number may appear in your text only if it appears in the FACTS or CONTEXT you were given, \
written exactly as it is written there (the same digits; thousands separators may be kept or \
dropped). When in doubt, write no number at all: "a record month", "twice the usual queue" and \
"the busiest weekend so far" tell the story without one.
- Stay consistent with the scenario: the company's name, location, currency, founding date and \
catalogue are fixed; refer to products, rooms, plans, employees and suppliers by the names in \
the CONTEXT; do not introduce competitors or products that contradict it.
- Be specific and plausible for the kind of business and its place: a bakery has early mornings, \
seasonal bakes, flour prices and regulars; a hotel has seasons, conferences, reviews and \
renovations; a tech startup has releases, outages, churn, hires and funding rounds.
- Write for a reader who knows business: plain, concrete English; no marketing superlatives, no \
emojis, no lists inside text fields, no Markdown.
- Names: real-sounding, varied and fitting the location; no famous people, no real companies' \
trademarks, no placeholders such as "Employee A" or "Product One".
- The company's price_level and growth place it in its market and must agree with its story: \
a premium bakery might have a price_level of 1.2, a budget hotel 0.85; most businesses grow \
between -0.05 and 0.3 a year, a young startup faster. The simulation turns them into prices \
and demand, within its own bounds; you never write the resulting numbers yourself.
- Notable events are things that happen to the business (a launch, a renovation, a funding \
round, a bad or a good review, a press article, a partnership, a promotion, a key hire or a \
departure, a supplier problem, an outage, an expansion, a local event). A year has a few of \
them, at most two in a month, spread so the year has an arc. When a notable event explains a \
ledger event of its month (a funding round, a hire), the month's request names that ledger \
event and its amount, which you may cite exactly.
- A month's narrative reads like the owner's monthly note: what happened, what it meant, what \
comes next, in one short paragraph that agrees with the month's FACTS and notable events.

The tools:
- write_company: the company's name, story, price_level and growth, and the text of each \
catalogue entry, supplier and person, keyed by their ids.
- write_year: the year's theme and its notable events.
- write_month: one month's headline, narrative and the telling of its notable events.
"""


def system_blocks(context: str | None = None) -> list[dict[str, Any]]:
    """The system prompt and the scenario context, both cached: the year call writes the cache
    and a scenario's month calls read it. Without a context (the one company call, whose tool is
    its own) nothing is cached, since a cache write costs more than it would ever save."""
    if context is None:
        return [{"type": "text", "text": SYSTEM}]
    return [
        {"type": "text", "text": SYSTEM, "cache_control": CACHE},
        {"type": "text", "text": context, "cache_control": CACHE},
    ]


def _attrs(entity: dict[str, Any], money: bool) -> str:
    """Short string attributes (category, role, ...) and, with `money`, amounts in cents as money;
    not emails, dates, lists or other numbers, which cost tokens and invite misquotes."""
    shown = []
    for key, value in sorted(entity.items()):
        if key in ("id", "name", "description") or value is None:
            continue
        if money and key.endswith("_cents") and isinstance(value, int) and not isinstance(value, bool):
            shown.append(f"{key.removesuffix('_cents')}={value / 100:.2f}")
        elif isinstance(value, str) and len(value) <= 40 and "@" not in value and not _DATE.match(value):
            shown.append(f"{key}={value}")
    return ", ".join(shown)


def catalogue_lines(master: MasterData, kinds: list[str], limit: int, money: bool = False) -> list[str]:
    """One line per entity: id, name, description and short attributes, in a stable order."""
    data = json.loads(master.model_dump_json(include=set(kinds)))  # not the thousands of customers
    lines: list[str] = []
    for kind in kinds:
        entities = data.get(kind) or []
        if not entities:
            continue
        more = f" (first {limit} of {len(entities)})" if len(entities) > limit else ""
        lines.append(f"{kind}{more}:")
        for e in entities[:limit]:
            about = f" - {e['description']}" if e.get("description") else ""
            attrs = _attrs(e, money)
            lines.append(f"- {e['id']}: {e['name']}{about}" + (f" [{attrs}]" if attrs else ""))
    return lines


def scenario_context(spec: ScenarioSpec, master: MasterData) -> str:
    """Everything about the scenario a year or month call needs; a function of master data and spec
    only, rendered canonically, so every process sends the same text and reads the cache."""
    c = master.company
    head = [
        "CONTEXT",
        f"company: {c.name} ({spec.business_type.value}), {c.location}; currency {c.currency}; "
        f"founded {c.founded.isoformat()}",
        f"story: {c.description or ''}",
        f"scenario: {spec.months} months from {spec.start_month}",
    ]
    catalogue = catalogue_lines(master, ["products", "room_types", "plans"], limit=60, money=True)
    people = catalogue_lines(master, ["suppliers", "employees"], limit=60)  # no salaries: not the story's
    return "\n".join(head + catalogue + people)
