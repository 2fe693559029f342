"""An HTTP client that delivers requests to a WSGI app in this process.

When ``API_BASE_URL`` is unset the web tier's API is "this app". Calling
ourselves over the network would tie up a second worker thread per page (and
deadlock a saturated worker); instead the request goes, with the same method,
path, headers and body, straight into the app's WSGI callable, and comes back
as a ``requests.Response``. The API tier validates the bearer token exactly as
it would for a remote caller. It offers the one method ``ProtectedApi`` uses
(``request``), without ``requests``' per-call machinery (a third of the hop).
"""

from __future__ import annotations

import contextvars
import io
import json as jsonlib
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

IN_PROCESS_BASE_URL = "http://in-process.invalid"  # a reserved name: never resolvable on the network
# Set in the environ of in-process requests: their responses never reach a browser.
IN_PROCESS_ENVIRON_KEY = "entra_auth.in_process"


class InProcessClient:
    def __init__(self, wsgi_app: Callable):
        self._app = wsgi_app

    def request(self, method: str, url: str, *, json: Any = None, headers: dict[str, str] | None = None,
                allow_redirects: bool = False) -> requests.Response:
        parts = urlsplit(url)
        body = jsonlib.dumps(json).encode() if json is not None else b""
        environ = {
            "REQUEST_METHOD": method.upper(),
            "SCRIPT_NAME": "",
            "PATH_INFO": parts.path or "/",
            "QUERY_STRING": parts.query,
            "SERVER_NAME": parts.hostname or "in-process.invalid",
            "SERVER_PORT": str(parts.port or 80),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": parts.scheme or "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
            IN_PROCESS_ENVIRON_KEY: True,
        }
        if json is not None:
            environ["CONTENT_TYPE"] = "application/json"
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            else:
                environ[f"HTTP_{key}"] = value
        # An empty context: the inner request gets its own app context and ``g``
        # (Flask reuses the current app context for a nested request otherwise).
        status, response_headers, content = contextvars.Context().run(self._call, environ)
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = CaseInsensitiveDict(response_headers)
        response._content = content
        response.encoding = "utf-8"
        response.url = url
        return response

    def _call(self, environ: dict) -> tuple[str, list[tuple[str, str]], bytes]:
        captured: list = []

        def start_response(status, headers, exc_info=None):
            captured[:] = [status, headers]
            return lambda data: None

        result = self._app(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return captured[0], captured[1], content


def in_process_client(wsgi_app: Callable) -> InProcessClient:
    return InProcessClient(wsgi_app)
