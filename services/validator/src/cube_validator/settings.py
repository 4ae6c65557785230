"""Validator settings."""

from cube_runtime.settings import CubeSettings
from pydantic import Field


class ValidatorSettings(CubeSettings):
    """Environment of the validator."""

    cube_publish_chunk: int = Field(default=2000, ge=1, description="Analytics messages in flight at once.")
