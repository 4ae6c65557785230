"""Time left for a scenario, estimated from the durations its stages have measured so far."""

from datetime import UTC, datetime
from typing import Any


def _at(timings: dict[str, Any], name: str) -> datetime | None:
    value = timings.get(name)
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def eta_seconds(
    status: str, progress: int, months_done: int, months_total: int, timings: dict[str, Any], now: datetime
) -> float | None:
    """Seconds left, or None while nothing has been measured yet (or the scenario has ended)."""
    if status == "completed":
        return 0.0
    if status != "processing":
        return None
    months_started = _at(timings, "months_started")
    if months_started is not None and 0 < months_done < months_total:
        # The months run in parallel, so their observed throughput is the honest pace for the rest;
        # storing and validating take about as long as one month's share.
        per_month = (now - months_started).total_seconds() / months_done
        return round(per_month * (months_total - months_done + 1), 2)
    began = _at(timings, "requested")
    if began is None or progress < 10:
        return None
    # Before the months (or after them), extrapolate the pace of the stages measured so far.
    elapsed = max((now - began).total_seconds(), 0.0)
    return round(elapsed * (100 - progress) / progress, 2)
