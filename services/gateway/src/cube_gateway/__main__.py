"""`python -m cube_gateway`: the HTTP API on CUBE_HTTP_HOST:CUBE_HTTP_PORT."""

import asyncio
import socket

import uvicorn

from cube_gateway.app import create_app, prepare
from cube_gateway.settings import GatewaySettings
from cube_runtime import logs
from cube_runtime.service import fail, tune_gc
from cube_runtime.settings import ConfigError, load


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a busy port is a one-line error, not a traceback."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"CUBE_HTTP_PORT: cannot listen on {host}:{port} ({exc.strerror})") from None
    return sock


def main() -> None:
    """Run the gateway until SIGINT/SIGTERM."""
    try:
        settings = load(GatewaySettings)
        logs.setup("gateway", settings.cube_log_level)
        app = create_app(settings)
        sock = _bind(settings.cube_http_host, settings.cube_http_port)
        # Checked before uvicorn starts: a failure inside the lifespan would print uvicorn's traceback.
        asyncio.run(prepare(settings))
        tune_gc()
        config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=5)
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
    except ConfigError as exc:
        fail("gateway", str(exc))


if __name__ == "__main__":
    main()
