"""A ``requests`` transport that delivers requests to a WSGI app in this process.

When ``API_BASE_URL`` is unset the web tier's API is "this app". Calling
ourselves over the network would tie up a second worker thread per page (and
deadlock a saturated worker); instead the request goes through the same
``requests`` code path, headers and status codes, straight into the app's
WSGI callable. The API tier validates the bearer token exactly as it would
for a remote caller.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.test import EnvironBuilder, run_wsgi_app

IN_PROCESS_BASE_URL = "http://in-process.invalid"  # a reserved name: never resolvable on the network


class WSGITransport(BaseAdapter):
    def __init__(self, wsgi_app: Callable):
        super().__init__()
        self._app = wsgi_app

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        parts = urlsplit(request.url)
        body = request.body.encode() if isinstance(request.body, str) else request.body
        builder = EnvironBuilder(
            method=request.method,
            base_url=f"{parts.scheme}://{parts.netloc}",
            path=parts.path,
            query_string=parts.query,
            headers=dict(request.headers),
            data=body or b"",
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        # An empty context: the inner request gets its own app context and ``g``
        # (Flask reuses the current app context for a nested request otherwise).
        app_iter, status, headers = contextvars.Context().run(run_wsgi_app, self._app, environ, True)
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = CaseInsensitiveDict(headers.items())
        response._content = b"".join(app_iter)
        if hasattr(app_iter, "close"):
            app_iter.close()
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def in_process_session(wsgi_app: Callable) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.mount(IN_PROCESS_BASE_URL, WSGITransport(wsgi_app))
    return session
