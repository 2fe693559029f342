"""The CSRF token a page embeds: signed once per session secret in each worker.

Flask-WTF's ``generate_csrf`` signs the session's CSRF secret anew on every page
(a serializer, a key derivation, JSON, zlib, base64 and an HMAC): about 0.09 ms
of a signed-in ``/orders`` (measured in-process against the bench stack). With
``WTF_CSRF_TIME_LIMIT = None`` (config.py: the token lives as long as the
session) a signed token never ages, so the one signed for a secret a moment ago
is exactly as valid as a new one: this worker reuses it while the session keeps
that secret. Checking is untouched: Flask-WTF's ``csrf_protect`` still compares
every unsafe request's token with the session's secret. With a time limit set
nothing is reused (a reused token would carry an older time).
"""

from __future__ import annotations

from flask import Flask, g, session
from flask_wtf.csrf import generate_csrf

MAX_REMEMBERED = 10_000  # secrets (40 hex) and their tokens (about 90 characters): about 2.5 MB at most


def init_app(app: Flask) -> None:
    """Serve templates' ``csrf_token()`` from the worker's memory; call after ``CSRFProtect(app)``."""
    if app.config.get("WTF_CSRF_TIME_LIMIT") is not None:
        return
    field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    signed: dict[str, str] = {}  # the session's secret -> its signed token (this app's key and salt)

    def csrf_token() -> str:
        secret = session.get(field)
        token = signed.get(secret) if isinstance(secret, str) else None
        if token is None:
            token = generate_csrf()  # creates the secret if the session has none yet
            secret = session.get(field)
            if isinstance(secret, str):
                if len(signed) >= MAX_REMEMBERED:
                    signed.clear()
                signed[secret] = token
        elif field not in g:
            setattr(g, field, token)  # what generate_csrf would answer for the rest of this request
        return token

    app.jinja_env.globals["csrf_token"] = csrf_token

    # Flask-WTF's context processor offers its own csrf_token; a later processor's name wins.
    @app.context_processor
    def _csrf_token():
        return {"csrf_token": csrf_token}
