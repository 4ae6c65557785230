"""Validator settings."""

from pydantic import Field

from cube_runtime.settings import CubeSettings


class ValidatorSettings(CubeSettings):
    """Environment of the validator."""

    cube_publish_chunk: int = Field(default=2000, ge=1, description="Analytics messages in flight at once.")
