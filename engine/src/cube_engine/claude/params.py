"""Parameters the model may propose for the simulation, clamped to the simulation's own bounds."""

from typing import Any

from cube_contracts.model import ScenarioSpec

# The simulation's bounds (cube_engine.sim.common.COMMON_PARAMS), repeated for when it cannot be read.
FALLBACK_BOUNDS = {"price_level": (0.5, 2.0), "growth": (-0.5, 1.5)}
PROPOSED = tuple(FALLBACK_BOUNDS)


def bounds() -> dict[str, tuple[float, float]]:
    """(low, high) of each proposable parameter, as the simulation enforces them."""
    try:
        from cube_engine.sim.common import COMMON_PARAMS
    except ImportError:  # pragma: no cover - the simulation moved its parameters
        return dict(FALLBACK_BOUNDS)
    out = {}
    for name, fallback in FALLBACK_BOUNDS.items():
        p = COMMON_PARAMS.get(name)
        low, high = (getattr(p, "low", None), getattr(p, "high", None)) if p else (None, None)
        out[name] = (fallback[0] if low is None else float(low), fallback[1] if high is None else float(high))
    return out


def effective_params(spec: ScenarioSpec, proposal: dict[str, float]) -> dict[str, Any]:
    """The spec's params with the model's proposals, clamped, where the user set none."""
    limits = bounds()
    clamped = {
        name: round(min(limits[name][1], max(limits[name][0], float(value))), 2)
        for name, value in proposal.items()
        if name in limits
    }
    return {**clamped, **spec.params}


def with_params(spec: ScenarioSpec, params: dict[str, Any] | None) -> ScenarioSpec:
    """`spec` with `params`; the same spec when they are not different."""
    if params is None or params == spec.params:
        return spec
    return spec.model_copy(update={"params": dict(params)})
