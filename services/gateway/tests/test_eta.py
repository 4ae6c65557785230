"""The time-left estimate, from stage timings alone."""

from datetime import UTC, datetime, timedelta

from cube_gateway.eta import eta_seconds

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _timings(**offsets: float) -> dict[str, str]:
    return {name: (T0 + timedelta(seconds=s)).isoformat() for name, s in offsets.items()}


def test_unknown_until_something_was_measured() -> None:
    assert eta_seconds("queued", 0, 0, 12, {}, T0) is None
    assert eta_seconds("processing", 5, 0, 12, _timings(requested=0), T0 + timedelta(seconds=1)) is None
    assert eta_seconds("failed", 40, 0, 12, _timings(requested=0), T0) is None


def test_months_pace_sets_the_estimate() -> None:
    # 4 of 12 months in 8 s: 2 s a month, 8 months and the tail left.
    timings = _timings(requested=0, months_started=2)
    assert eta_seconds("processing", 60, 4, 12, timings, T0 + timedelta(seconds=10)) == 18.0


def test_planning_extrapolates_the_elapsed_pace() -> None:
    assert eta_seconds("processing", 20, 0, 12, _timings(requested=0), T0 + timedelta(seconds=4)) == 16.0


def test_completed_is_zero_and_garbage_timings_are_ignored() -> None:
    assert eta_seconds("completed", 100, 12, 12, {}, T0) == 0.0
    assert eta_seconds("processing", 50, 0, 12, {"requested": "soon"}, T0) is None
    naive = {"requested": "2025-01-01T00:00:00"}
    assert eta_seconds("processing", 50, 0, 12, naive, T0 + timedelta(seconds=2)) == 2.0
