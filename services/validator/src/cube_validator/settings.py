"""Validator settings."""

from typing import Literal

from pydantic import Field

from cube_runtime.settings import CubeSettings


class ValidatorSettings(CubeSettings):
    """Environment of the validator."""

    cube_validate_timeout: float = Field(default=120.0, gt=0, description="Seconds one validation may take.")
    cube_analytics_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        default="zstd",
        description="Compression of the analytics topic's batches; `none` for consumers without a zstd codec.",
    )
