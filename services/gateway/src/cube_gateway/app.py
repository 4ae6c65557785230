"""Composition root of the gateway."""

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from cube_gateway import api, errors, health
from cube_gateway.backpressure import Admission
from cube_gateway.limits import Limits
from cube_gateway.outbox import Relay
from cube_gateway.settings import GatewaySettings
from cube_runtime import db, kafka


async def prepare(settings: GatewaySettings) -> None:
    """Migrate the database and create the topics; a ConfigError names what is unreachable."""
    await db.migrate(settings.require_database())
    await kafka.ensure_topics(settings.require_broker())


def create_app(settings: GatewaySettings) -> FastAPI:
    """The HTTP API on the database and broker of `settings`."""
    dsn, bootstrap = settings.require_database(), settings.require_broker()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await prepare(settings)
        app.state.pool = await db.create_pool(dsn, max_size=20)
        app.state.relay = Relay(app.state.pool, dsn, bootstrap)
        await app.state.relay.start()
        try:
            yield
        finally:
            await app.state.relay.stop()
            await app.state.pool.close()

    app = FastAPI(
        title="Telling Cube",
        version="1.0.0",
        description="A realistic, consistent year of a business, generated in the background.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.admission = Admission(settings.cube_max_scenarios_in_flight)
    app.include_router(api.router)
    app.include_router(health.router)
    app.add_middleware(
        Limits, max_body=settings.cube_max_body_bytes, max_in_flight=settings.cube_max_in_flight
    )
    errors.install(app)
    return app
