"""The checks of the text events (a month's narrative and its notable events): words only, checked
apart from the numbers, so that a year's numbers can be checked while its text is being written."""

from collections import Counter
from collections.abc import Iterable
from uuid import UUID

from cube_contracts import REFERENCE_FIELDS, BusinessEvent, CheckResult, ScenarioSpec
from cube_engine.sim.streams import month_bounds
from cube_engine.validation.context import result

# Event types that carry words and nothing else: no amount, no reference to master data.
TEXT_EVENT_TYPES = ("narrative", "notable_event")


def split(events: Iterable[BusinessEvent]) -> tuple[list[BusinessEvent], list[BusinessEvent]]:
    """The numbers and the text events, each in the order given."""
    numbers: list[BusinessEvent] = []
    text: list[BusinessEvent] = []
    for e in events:
        (text if e.event_type in TEXT_EVENT_TYPES else numbers).append(e)
    return numbers, text


def text_events(spec: ScenarioSpec, text: list[BusinessEvent], numbers_ids: set[UUID]) -> CheckResult:
    """Each text event inside its month, without money or references, with an id of its own; an
    event it explains (`related_event_id`) is one of the scenario's numbers."""
    if not text:
        return CheckResult(
            name="text_events", passed=True, severity="error", details="not applicable: no text"
        )
    problems = [
        f"event_id {k} appears {n} times" for k, n in Counter(e.event_id for e in text).items() if n > 1
    ]
    for e in text:
        if e.event_id in numbers_ids:
            problems.append(f"{e.event_type} {e.event_id} has the id of a ledger event")
        if not 1 <= e.month <= spec.months:
            problems.append(f"{e.event_type} {e.event_id} is in month {e.month}, outside 1..{spec.months}")
        else:
            first, end = month_bounds(spec.start, e.month)
            if not first <= e.occurred_at.date() < end:
                problems.append(
                    f"{e.event_type} {e.event_id} dated {e.occurred_at.date()} is outside month {e.month}"
                    f" ({first}..{end})"
                )
        if e.amount is not None:
            problems.append(f"{e.event_type} {e.event_id} moves no money but has amount {e.amount}")
        named = [ref for ref in REFERENCE_FIELDS if getattr(e, ref) is not None]
        if named:
            problems.append(f"{e.event_type} {e.event_id} names master data ({', '.join(named)})")
        related = e.attributes.get("related_event_id")
        if related is not None and _uuid(related) not in numbers_ids:
            problems.append(
                f"{e.event_type} {e.event_id} explains event {related}, which is not in the ledger"
            )
    return result(
        "text_events", problems, len(text),
        ok=f"{len(text)} text events: in their month, no money, own ids, explaining ledger events",
    )  # fmt: skip


def _uuid(value: object) -> UUID | None:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        return None
