"""Business events built without validation are the validated ones."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from cube_contracts import BusinessEvent


def test_a_trusted_event_is_the_validated_one() -> None:
    values = {
        "event_id": uuid4(), "scenario_id": uuid4(), "month": 2,
        "occurred_at": datetime(2025, 2, 3, 9, 30, tzinfo=UTC), "event_type": "sale",
        "amount": Decimal("12.50"), "currency": "EUR", "customer_id": "C1", "product_id": None,
        "room_id": None, "room_type_id": None, "plan_id": None, "employee_id": None,
        "supplier_id": None, "attributes": {"ticket_id": "T1"},
    }  # fmt: skip
    trusted = BusinessEvent.trusted(dict(values))
    checked = BusinessEvent.model_validate(values)
    assert trusted == checked and trusted.model_dump() == checked.model_dump()
    assert trusted.model_dump_json() == checked.model_dump_json()
    assert trusted.model_fields_set == checked.model_fields_set
    with pytest.raises(ValueError, match="fields of a business event"):
        BusinessEvent.trusted({k: v for k, v in values.items() if k != "attributes"})
