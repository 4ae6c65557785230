"""Validator settings."""

from pydantic import Field

from cube_runtime.settings import CubeSettings


class ValidatorSettings(CubeSettings):
    """Environment of the validator."""

    cube_validate_timeout: float = Field(default=120.0, gt=0, description="Seconds one validation may take.")
