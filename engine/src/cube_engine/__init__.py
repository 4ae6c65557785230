"""Scenario engines of Telling Cube and the validator's checks."""

from cube_engine.base import LATENCY_PROFILES, Engine
from cube_engine.simulated import SimulatedEngine, content_hash, generate, render_month, validate_params
from cube_engine.validation import ValidationReport, validate

__all__ = [
    "LATENCY_PROFILES",
    "Engine",
    "SimulatedEngine",
    "ValidationReport",
    "content_hash",
    "generate",
    "render_month",
    "validate",
    "validate_params",
]
