"""Pieces of the gateway that need no I/O."""

import pytest
from fastapi import HTTPException

from cube_contracts import EngineName
from cube_gateway import cursor
from cube_gateway.api import to_spec
from cube_gateway.schemas import ScenarioRequest
from cube_gateway.settings import GatewaySettings


def test_cursor_round_trip_and_garbage() -> None:
    assert cursor.decode(cursor.encode(3, 41), 2) == ["3", "41"]
    for bad in ("%%%", "bm9wZQ", cursor.encode(1, 2, 3)):
        with pytest.raises(cursor.BadCursor):
            cursor.decode(bad, 2)


def test_spec_defaults_come_from_the_server() -> None:
    settings = GatewaySettings(cube_engine=EngineName.SIMULATED)
    spec = to_spec(ScenarioRequest(business_type="hotel"), settings)  # type: ignore[arg-type]
    assert spec.engine is EngineName.SIMULATED and 0 <= spec.seed < 2**31 and spec.months == 12


def test_claude_without_a_key_is_refused() -> None:
    settings = GatewaySettings(anthropic_api_key=None)
    with pytest.raises(HTTPException) as err:
        to_spec(ScenarioRequest(business_type="bakery", engine="claude"), settings)  # type: ignore[arg-type]
    assert err.value.status_code == 422 and "ANTHROPIC_API_KEY" in str(err.value.detail)
