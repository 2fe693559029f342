"""Run the emulator over HTTPS in a background thread (for the CLI, `run` and tests)."""

from __future__ import annotations

import logging
import secrets
import ssl
import threading
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .core import Emulator
from .manifest import load_manifest
from .server import create_emulator_app

DEFAULT_STATE_DIR = Path(__file__).resolve().parent.parent / "instance" / "entra-emulator"


class EmulatorServer:
    """An emulator bound to ``host:port`` (port 0 picks a free one), served on HTTPS."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 5443,
        manifest_path: Path | str | None = None,
        state_dir: Path | str | None = None,
        app_base_urls: list[str] | tuple[str, ...] = ("http://localhost:5000",),
        identity_header: str | None = None,
        spa_base_urls: list[str] | tuple[str, ...] = (),
    ):
        """``spa_base_urls``: further origins the single-page client is served from (its ``spa``
        redirect URIs are registered on each app base URL and on each of these)."""
        self.host = host
        self.state_dir = Path(state_dir) if state_dir else DEFAULT_STATE_DIR
        # Bind first so port 0 resolves before the authority URL is fixed into tokens.
        self._server: BaseWSGIServer = make_server(
            host, port, app=_placeholder, threaded=True, request_handler=_NoDelayHandler
        )
        self.port = self._server.server_port
        # Tokens name the issuer by this URL; a wildcard bind is reached on loopback.
        url_host = host if host not in ("0.0.0.0", "::") else "127.0.0.1"
        self.url = f"https://{url_host}:{self.port}"
        manifest = load_manifest(manifest_path, authority_host=self.url, app_base_urls=list(app_base_urls),
                                 spa_base_urls=list(spa_base_urls))
        self.emulator = Emulator.create(
            manifest, self.state_dir, self.url, identity_header=identity_header or secrets.token_urlsafe(24)
        )
        cert_path = self.emulator.ca.server_certificate(["127.0.0.1", "localhost", "::1", host])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_path)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._server.app = create_emulator_app(self.emulator)
        self._thread: threading.Thread | None = None

    @property
    def ca_path(self) -> Path:
        return self.emulator.ca.cert_path

    @property
    def identity_endpoint(self) -> str:
        return f"{self.url}/msi/token"

    def authority(self, tenant: str = "home") -> str:
        found = self.emulator.manifest.tenant(tenant)
        return f"{self.url}/{found.id if found else tenant}"

    def start(self) -> "EmulatorServer":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._thread = threading.Thread(target=self._server.serve_forever, name="entra-emulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)


class _NoDelayHandler(WSGIRequestHandler):
    # Werkzeug writes headers and body in separate small writes; with Nagle's
    # algorithm the second waits for the client's delayed ACK, costing ~12 ms
    # per request (every request, as werkzeug closes each connection).
    disable_nagle_algorithm = True


def _placeholder(environ, start_response):  # replaced before serving starts
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]
