"""Settings shared by every service; each service extends `CubeSettings` once."""

import re
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_HOSTPORT = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


S = TypeVar("S", bound="CubeSettings")


class ConfigError(Exception):
    """Bad configuration: the message names the setting and is shown as one line."""


class CubeSettings(BaseSettings):
    """Environment every process reads (names from API.md)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    cube_home: Path = Field(
        default=Path(".cube"), description="Data folder: embedded database, logs, exports."
    )
    kafka_bootstrap_servers: str | None = Field(default=None, description="External Kafka; unset: embedded.")
    database_url: str | None = Field(default=None, description="External PostgreSQL; unset: embedded.")
    cube_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")
    cube_group_prefix: str = Field(
        default="", max_length=100, description="Prefix of every consumer group: several stacks, one broker."
    )
    cube_fetch_max_wait_ms: int = Field(
        default=10,
        ge=1,
        le=5000,
        description="aiokafka fetch wait of the pipeline's consumers (planner, month-workers, validator) while"
        " they are awake: the embedded broker answers a fetch only when its wait is over, so a message that"
        " arrives meanwhile waits up to this much; idle, they pause instead (CUBE_DOORBELL_PROBE_MS).",
    )
    cube_doorbell_probe_ms: int = Field(
        default=1000,
        ge=0,
        le=60000,
        description="Planner, month-workers and validator pause their partitions when idle and a publisher's"
        " ring (a NOTIFY after the message is on the broker) wakes them; they look this often regardless,"
        " which bounds what a lost ring costs. 0: they never pause, and fetch all the time.",
    )

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        servers = [s.strip() for s in value.split(",")]
        for server in servers:
            host_port = server.split("://", 1)[-1]
            if not _HOSTPORT.match(host_port) or not 0 < int(host_port.rsplit(":", 1)[1]) < 65536:
                raise ValueError(f"expected host:port[,host:port...], got {server!r}")
        return ",".join(servers)

    @field_validator("database_url")
    @classmethod
    def _dsn(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        if not value.startswith(("postgres://", "postgresql://")):
            raise ValueError("expected a postgresql:// URL")
        return value

    def require_broker(self) -> str:
        if not self.kafka_bootstrap_servers:
            raise ConfigError(
                "KAFKA_BOOTSTRAP_SERVERS is not set: run the stack with `cube up`, or point it at Kafka"
            )
        return self.kafka_bootstrap_servers

    def require_database(self) -> str:
        if not self.database_url:
            raise ConfigError(
                "DATABASE_URL is not set: run the stack with `cube up`, or point it at PostgreSQL"
            )
        return self.database_url


def load(cls: type[S]) -> S:
    """Instantiate settings, turning validation errors into one ConfigError naming the variable."""
    from pydantic import ValidationError

    try:
        return cls()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else cls.__name__
        raise ConfigError(f"{name}: {err['msg']}") from None
