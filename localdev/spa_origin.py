"""The single-page client's own origin for ``./run``: a second listener that serves only the
SPA's page and static files, so the SPA calls the API cross-origin, as a SPA hosted apart from
its API does (with ``API_CORS_ORIGINS`` naming this origin). Everything else is a 404 here: the
web app, its sign-in and its API live on the app's origin only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

SPA_PATHS = ("/spa/", "/static/")


def spa_only(app: Callable) -> Callable:
    """A WSGI app answering ``/spa/`` and ``/static/*`` through ``app``, and 404 for any other path."""

    def serve(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/spa" or path.startswith(SPA_PATHS):
            return app(environ, start_response)
        body = b"Not found: this origin serves only the single-page client, at /spa/.\n"
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"),
                                         ("Content-Length", str(len(body))), ("X-Content-Type-Options", "nosniff")])
        return [body]

    return serve
