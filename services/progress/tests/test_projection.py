"""Ordering rules of the status projection: late, replayed or reordered events never move back."""

import itertools
from uuid import uuid4

import pytest

from cube_contracts import (
    Envelope,
    MasterDataGenerated,
    MonthCompleted,
    MonthStarted,
    PlanningFailed,
    PlanningStarted,
    ScenarioCompleted,
    ScenarioRequested,
    ScenarioSpec,
    Stage,
    Status,
    TrendsGenerated,
    ValidationStarted,
)
from cube_progress.projection import ScenarioState, apply, initial

SID = uuid4()
BASE = {"scenario_id": SID, "producer": "test"}


def month_done(m: int, total: int = 3) -> MonthCompleted:
    return MonthCompleted(**BASE, month=m, months_total=total, event_count=1, content_hash="h", duration_ms=1)


def happy_path(total: int = 3) -> list[Envelope]:
    spec = ScenarioSpec(business_type="bakery", seed=1, months=total)  # type: ignore[arg-type]
    return [
        ScenarioRequested(**BASE, spec=spec),
        PlanningStarted(**BASE, months_total=total),
        MasterDataGenerated(**BASE, duration_ms=1),
        TrendsGenerated(**BASE, months_total=total, duration_ms=1),
        MonthStarted(**BASE, month=1, months_total=total, worker="w"),
        *[month_done(m, total) for m in range(1, total + 1)],
        ValidationStarted(**BASE),
        ScenarioCompleted(**BASE, event_count=10),
    ]


def run(events: list[Envelope], total: int = 3) -> list[ScenarioState]:
    states = [initial(total)]
    for event in events:
        states.append(apply(states[-1], event))
    return states


def test_happy_path_walks_the_stages_in_order() -> None:
    states = run(happy_path())
    stages = [s.stage for s in states]
    assert stages == sorted(stages, key=lambda s: s.rank)
    assert {
        Stage.STARTING,
        Stage.MASTER_DATA,
        Stage.TRENDS,
        Stage.MONTHS,
        Stage.STORING,
        Stage.VALIDATING,
    } <= set(stages)
    final = states[-1]
    assert (final.status, final.progress, final.months_done, final.event_count) == (
        Status.COMPLETED,
        100,
        3,
        10,
    )


def test_months_progress_between_50_and_80() -> None:
    states = run(happy_path())
    month_progress = [s.progress for s in states if s.stage is Stage.MONTHS]
    assert month_progress[0] == 50 and max(month_progress) <= 80
    assert 60 in month_progress and 70 in month_progress  # 1 and 2 of 3 months done


@pytest.mark.parametrize("seed", range(30))
def test_any_order_never_moves_back_and_ends_the_same(seed: int) -> None:
    import random

    events = happy_path()
    shuffled = events[:-1]
    random.Random(seed).shuffle(shuffled)
    states = run([*shuffled, events[-1]])
    progress = [s.progress for s in states]
    assert progress == sorted(progress)
    assert [s.stage.rank for s in states] == sorted(s.stage.rank for s in states)
    assert states[-1].status is Status.COMPLETED and states[-1].months_done == 3


def test_duplicate_month_is_counted_once() -> None:
    state = run([month_done(1), month_done(1), month_done(1)])[-1]
    assert state.months_done == 1


def test_terminal_status_is_final() -> None:
    failed = run([PlanningStarted(**BASE, months_total=3), PlanningFailed(**BASE, reason="engine down")])[-1]
    assert failed.status is Status.FAILED and failed.error_message == "engine down"
    later = apply(apply(failed, month_done(1)), ScenarioCompleted(**BASE, event_count=1))
    assert later == failed
    assert "engine down" in failed.stage_message


def test_late_event_after_completion_changes_nothing() -> None:
    done = run(happy_path())[-1]
    for late in itertools.islice(happy_path(), 0, 8):
        assert apply(done, late) == done
