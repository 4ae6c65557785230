"""Real infrastructure for the connected test tier: testcontainers where a Docker engine
answers, the embedded broker and database where none does. Same tests either way."""

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cube_runtime import embedded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Infra:
    """Addresses of a real broker and a real PostgreSQL, and which backend provides them."""

    bootstrap: str
    dsn: str
    backend: str


def docker_available() -> bool:
    """True when a Docker engine answers (the client alone is not enough)."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _containers() -> Iterator[Infra]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with KafkaContainer().with_kraft() as kafka, PostgresContainer("postgres:17", driver=None) as pg:
        yield Infra(
            kafka.get_bootstrap_server(), pg.get_connection_url(), "testcontainers (Kafka + PostgreSQL)"
        )


@contextlib.contextmanager
def _embedded() -> Iterator[Infra]:
    root = Path(tempfile.mkdtemp(prefix="cube-test-"))
    broker = embedded.start_broker(root / "logs")
    try:
        pg = embedded.start_postgres(root / "pgdata", root / "logs")
    except BaseException:
        broker.stop()
        raise
    try:
        yield Infra(broker.url, pg.url, "embedded (Tansu broker + PostgreSQL)")
    finally:
        pg.stop()
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)  # a database and logs per session add up in /tmp


@contextlib.contextmanager
def real_infra() -> Iterator[Infra]:
    """A broker and a database for the session: external if set, containers, else embedded."""
    bootstrap, dsn = os.environ.get("CUBE_TEST_KAFKA"), os.environ.get("CUBE_TEST_DATABASE_URL")
    if bootstrap and dsn:
        yield Infra(bootstrap, dsn, "external (CUBE_TEST_KAFKA + CUBE_TEST_DATABASE_URL)")
    elif docker_available():
        with _containers() as infra:
            yield infra
    else:
        with _embedded() as infra:
            yield infra
