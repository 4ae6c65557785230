"""The contracts themselves: described fields, keys, stages."""

from uuid import uuid4

import pytest
from pydantic import BaseModel, ValidationError

from cube_contracts import (
    EVENT_TYPES,
    STAGE_PROGRESS,
    BusinessEvent,
    MasterData,
    MonthCompleted,
    ScenarioSpec,
    Stage,
    legacy_stage,
    month_key,
    months_progress,
    pipeline_event,
)
from cube_contracts.topics import ALL_TOPICS, MONTH_REQUESTED, dlq


def _models() -> list[type[BaseModel]]:
    return [*EVENT_TYPES, BusinessEvent, MasterData, ScenarioSpec]


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_field_is_described(model: type[BaseModel]) -> None:
    missing = [name for name, f in model.model_fields.items() if not f.description]
    assert missing == []


@pytest.mark.parametrize("model", EVENT_TYPES, ids=lambda m: m.__name__)
def test_every_event_carries_the_envelope(model: type[BaseModel]) -> None:
    assert {"event_id", "event_type", "schema_version", "scenario_id", "occurred_at", "producer"} <= set(
        model.model_fields
    )


def test_pipeline_events_round_trip_through_the_discriminated_union() -> None:
    sid = uuid4()
    event = MonthCompleted(
        scenario_id=sid,
        producer="t",
        month=3,
        months_total=12,
        event_count=7,
        content_hash="x",
        duration_ms=1,
    )
    parsed = pipeline_event.validate_json(event.model_dump_json())
    assert parsed == event
    with pytest.raises(ValidationError):
        pipeline_event.validate_json(b'{"event_type": "Nope"}')


def test_month_requested_has_many_partitions_and_month_keys() -> None:
    partitions = {t.name: t.partitions for t in ALL_TOPICS}
    assert partitions[MONTH_REQUESTED] >= 24
    assert dlq(MONTH_REQUESTED) in partitions
    assert month_key("abc", 7) == b"abc:7"


def test_stage_progress_follows_the_frontend_table() -> None:
    assert STAGE_PROGRESS[Stage.MONTHS] == (50, 80)
    assert [months_progress(d, 12) for d in (0, 6, 12)] == [50, 65, 80]
    assert legacy_stage(Stage.MONTHS, 0, 12) == "stage3_month_1"
    assert legacy_stage(Stage.MONTHS, 12, 12) == "stage3_month_12"
    assert legacy_stage(Stage.TRENDS, 0, 12) == "stage2_trends"
    ranks = [s.rank for s in Stage]
    assert ranks == sorted(ranks)


def test_spec_bounds_are_enforced() -> None:
    with pytest.raises(ValidationError):
        ScenarioSpec(business_type="bakery", seed=1, months=25)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ScenarioSpec(business_type="bakery", seed=1, start_month="2025-13")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ScenarioSpec.model_validate({"business_type": "bakery", "seed": 1, "colour": "red"})
