"""Gateway settings."""

from pydantic import Field

from cube_contracts import EngineName
from cube_runtime.settings import CubeSettings


class GatewaySettings(CubeSettings):
    """Environment of the gateway."""

    cube_http_host: str = Field(default="127.0.0.1", description="Address to listen on.")
    cube_http_port: int = Field(default=8080, ge=1, le=65535, description="Port to listen on.")
    cube_engine: EngineName = Field(
        default=EngineName.SIMULATED, description="Engine when a request names none."
    )
    anthropic_api_key: str | None = Field(default=None, description="Needed by the claude engine.")
    cube_max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body accepted.")
    cube_max_in_flight: int = Field(
        default=200,
        ge=1,
        description="Requests served at once; more get 503 instead of queueing unboundedly.",
    )
    cube_max_scenarios_in_flight: int = Field(
        default=200,
        ge=1,
        description="Scenarios queued or processing at once; new ones (and retries) get 429 at or above it.",
    )
