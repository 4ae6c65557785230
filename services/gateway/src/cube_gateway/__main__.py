"""`python -m cube_gateway`: the HTTP API on CUBE_HTTP_HOST:CUBE_HTTP_PORT."""

import socket

import uvicorn

from cube_gateway.app import create_app
from cube_gateway.settings import GatewaySettings
from cube_runtime import logs
from cube_runtime.service import fail
from cube_runtime.settings import ConfigError, load


def main() -> None:
    try:
        settings = load(GatewaySettings)
        logs.setup("gateway", settings.cube_log_level)
        app = create_app(settings)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((settings.cube_http_host, settings.cube_http_port))
        except OSError as exc:
            raise ConfigError(
                f"CUBE_HTTP_PORT: cannot listen on {settings.cube_http_host}:{settings.cube_http_port} ({exc.strerror})"
            ) from None
        config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=5)
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
    except ConfigError as exc:
        fail("gateway", str(exc))


main()
