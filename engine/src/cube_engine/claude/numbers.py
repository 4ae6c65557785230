"""Numbers in LLM-written text must be ledger values: find the ones that are not, and cut them out."""

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel

# A number as people write it: 1,234.50 or 12 or 3.5; not the digits inside a word like "A4".
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WHOLE = re.compile(r"-?\d+(?:\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CENT, _TENTH = Decimal("0.01"), Decimal("0.1")


def _value(token: str) -> Decimal | None:
    try:
        return Decimal(token.replace(",", "")).normalize()
    except InvalidOperation:
        return None


def allowed_numbers(*sources: Any) -> frozenset[Decimal]:
    """Every number held in `sources` (models, dicts, lists, numbers, numeric strings, ISO dates):
    the ledger values text may cite. Ids are not mined for digits."""
    found: set[Decimal] = set()
    stack: list[Any] = [s.model_dump(mode="json") if isinstance(s, BaseModel) else s for s in sources]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
            # Amounts kept in cents are cited in money: 2900 cents is 29.00.
            stack.extend(
                Decimal(v) / 100
                for k, v in item.items()
                if str(k).endswith("_cents") and isinstance(v, int) and not isinstance(v, bool)
            )
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, Decimal):
            found.update(_forms(item))
        elif isinstance(item, int | float):
            found.update(_forms(Decimal(str(item))))
        elif isinstance(item, str) and (_WHOLE.fullmatch(item) or _DATE.match(item)):
            found.update(v for t in _NUMBER.findall(item) if (v := _value(t)) is not None)
    return frozenset(found)


def _forms(value: Decimal) -> set[Decimal]:
    """A ledger value and the way text rounds it (12.5 may be cited as 12.50, 0.42 as 42 percent)."""
    value = abs(value)
    forms = {value.normalize()}
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        forms.add(value.quantize(_CENT).normalize())
    if 0 < value < 1:
        forms.add((value * 100).quantize(_TENTH).normalize())
    return forms


class Ledger:
    """The numbers text may cite, collected from `sources` only when a text has digits to check,
    which a well-behaved answer mostly has not."""

    def __init__(self, *sources: Any, extra: frozenset[Decimal] = frozenset()) -> None:
        self._sources = sources
        self._extra = extra
        self._values: frozenset[Decimal] | None = None

    @property
    def values(self) -> frozenset[Decimal]:
        if self._values is None:
            self._values = allowed_numbers(*self._sources) | self._extra
        return self._values

    def __contains__(self, value: object) -> bool:
        return value in self.values


Allowed = frozenset[Decimal] | Ledger


def stray_numbers(text: str, allowed: Allowed) -> list[str]:
    """Numbers in `text` that are not ledger values."""
    return [t for t in _NUMBER.findall(text) if _value(t) not in allowed]


def scrub(text: str, allowed: Allowed) -> str:
    """`text` without the sentences that cite a number that is not a ledger value."""
    kept = [s for s in _SENTENCE.split(text.strip()) if not stray_numbers(s, allowed)]
    return " ".join(kept).strip()


def problems(fields: Iterable[tuple[str, str]], allowed: Allowed) -> list[str]:
    """One line per (path, text) whose text cites numbers that are not ledger values."""
    found = []
    for path, text in fields:
        stray = stray_numbers(text, allowed)
        if stray:
            found.append(
                f"{path} cites {', '.join(stray[:5])}, which are not in FACTS; "
                "use only numbers from FACTS, exactly as written there, or no numbers"
            )
    return found


def numbers_in(*texts: str) -> frozenset[Decimal]:
    """The numbers written in `texts` (e.g. formatted facts)."""
    return frozenset(v for text in texts for t in _NUMBER.findall(text) if (v := _value(t)) is not None)
