"""Pieces of the gateway that need no I/O."""

import pytest
from fastapi import HTTPException
from pydantic import ValidationError

from cube_contracts import EngineName
from cube_gateway import cursor
from cube_gateway.api import legacy_current_stage, to_spec
from cube_gateway.repository import request_hash
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


@pytest.mark.parametrize(
    ("stage", "done", "total", "legacy"),
    [
        ("queued", 0, 12, "queued"),
        ("stage1_generating", 0, 12, "stage1_generating"),
        ("stage3_months", 0, 12, "stage3_month_1"),
        ("stage3_months", 5, 12, "stage3_month_6"),
        ("stage3_months", 12, 12, "stage3_month_12"),
        ("stage3_months", 2, 3, "stage3_month_3"),
        ("completed", 12, 12, "completed"),
        ("from_the_future", 0, 12, "from_the_future"),
    ],
)
def test_legacy_stage_names(stage: str, done: int, total: int, legacy: str) -> None:
    assert legacy_current_stage(stage, done, total) == legacy


def test_idempotency_fingerprint_is_of_the_request_not_the_random_seed() -> None:
    body = ScenarioRequest(business_type="bakery")  # type: ignore[arg-type]
    assert request_hash(body) == request_hash(ScenarioRequest(business_type="bakery"))  # type: ignore[arg-type]
    assert request_hash(body) != request_hash(ScenarioRequest(business_type="bakery", seed=1))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        {"business_type": "bakery", "params": {"growth": float("nan")}},
        {"business_type": "bakery", "months": 25},
        {"business_type": "bakery", "start_month": "2025-1"},
        {"business_type": "bakery", "extra": 1},
    ],
)
def test_request_validation(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ScenarioRequest.model_validate(body)


def test_engine_param_errors_are_422() -> None:
    body = ScenarioRequest(business_type="bakery", params={"zzz": 1})  # type: ignore[arg-type]
    with pytest.raises(HTTPException) as err:
        to_spec(body, GatewaySettings())
    assert err.value.status_code == 422 and "zzz" in str(err.value.detail)
