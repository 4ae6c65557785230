"""Collects a month's events and gives them stable ids in a deterministic order."""

from datetime import datetime
from decimal import Decimal
from hashlib import sha1
from typing import Any
from uuid import UUID, SafeUUID

from cube_contracts import BusinessEvent

_CENT = Decimal("0.01")


# uuid5's version and variant bits, as uuid.UUID(bytes=..., version=5) sets them.
_KEEP = ~((0xC000 << 48) | (0xF000 << 64))
_MARK = (0x8000 << 48) | (5 << 76)
_new, _set = object.__new__, object.__setattr__
_UNKNOWN = SafeUUID.unknown


def ids(namespace: UUID, names: list[str]) -> list[UUID]:
    """uuid5(namespace, name) of each name, without uuid5's per-call overhead (a year has tens
    of thousands of event ids)."""
    prefix, out = namespace.bytes, []
    for name in names:
        value = _new(UUID)
        _set(value, "int", int.from_bytes(sha1(prefix + name.encode()).digest()[:16]) & _KEEP | _MARK)
        _set(value, "is_safe", _UNKNOWN)
        out.append(value)
    return out


def money(cents: int) -> Decimal:
    return (Decimal(cents) * _CENT).quantize(_CENT)


class MonthBuilder:
    """Events of one month; amounts are integer cents until the very end."""

    def __init__(self, scenario_id: UUID, month: int, currency: str) -> None:
        self.scenario_id, self.month, self.currency = scenario_id, month, currency
        self._rows: list[tuple[datetime, int, str, int | None, dict[str, Any], dict[str, Any]]] = []

    def add(
        self, when: datetime, event_type: str, cents: int | None = None, attributes: dict[str, Any] | None = None,
        **refs: str | None,
    ) -> None:  # fmt: skip
        self._rows.append((when, len(self._rows), event_type, cents, refs, attributes or {}))

    def flows(self) -> tuple[int, int, int]:
        """Money in and money out (both >= 0, cents) of the events so far, and how many moved money."""
        amounts = [r[3] for r in self._rows if r[3] is not None]
        return sum(a for a in amounts if a > 0), -sum(a for a in amounts if a < 0), len(amounts)

    def build(self) -> list[BusinessEvent]:
        """Events sorted by time (ties by insertion), ids derived from the scenario and position."""
        self._rows.sort(key=lambda r: (r[0], r[1]))
        events = []
        event_ids = ids(self.scenario_id, [f"{self.month}:{seq}" for seq in range(len(self._rows))])
        for event_id, (when, _, event_type, cents, refs, attributes) in zip(
            event_ids, self._rows, strict=True
        ):
            # trusted: every value here is already valid, and this is the hot path.
            events.append(
                BusinessEvent.trusted(
                    {
                        "event_id": event_id,
                        "scenario_id": self.scenario_id,
                        "month": self.month,
                        "occurred_at": when,
                        "event_type": event_type,
                        "amount": None if cents is None else money(cents),
                        "currency": None if cents is None else self.currency,
                        "customer_id": refs.get("customer_id"),
                        "product_id": refs.get("product_id"),
                        "room_id": refs.get("room_id"),
                        "room_type_id": refs.get("room_type_id"),
                        "plan_id": refs.get("plan_id"),
                        "employee_id": refs.get("employee_id"),
                        "supplier_id": refs.get("supplier_id"),
                        "attributes": attributes,
                    }
                )
            )
        return events
