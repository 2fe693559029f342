"""CORS for the API tier (flask-cors): browsers on ``API_CORS_ORIGINS`` may call ``/api/*``.

What a SPA needs and nothing more:

* only the configured origins get ``Access-Control-Allow-Origin`` (echoed, with
  ``Vary: Origin``); any other origin gets no grant, so its script cannot read an answer;
* no cookies: ``Access-Control-Allow-Credentials`` is never sent, the API takes bearer
  tokens only (flask-cors' ``supports_credentials`` stays off);
* a preflight allows ``Authorization`` and ``Content-Type`` (a JSON POST), GET and POST;
* ``WWW-Authenticate`` is exposed, or a script could not read a 401's claims challenge
  (Fetch standard: only CORS-safelisted response headers are readable otherwise);
  ``Retry-After`` and ``X-Request-Id`` too, for the 503 and the reference to quote.

flask-cors answers in an after-request hook, so refusals from the error handlers (401,
403, 503) carry the same headers as a 200. Validation is unchanged: a token from a
browser is validated exactly as one from the web tier.
"""

from __future__ import annotations

import re

from flask import Flask
from flask_cors import CORS

EXPOSED_HEADERS = ["WWW-Authenticate", "Retry-After", "X-Request-Id"]
ALLOWED_HEADERS = ["Authorization", "Content-Type"]
PREFLIGHT_MAX_AGE_SECONDS = 600  # Chromium caps a preflight's cache at 2 hours anyway


def init_app(app: Flask) -> None:
    """Allow ``API_CORS_ORIGINS`` (none by default) to call ``/api/*`` from a browser."""
    origins = list(app.config.get("API_CORS_ORIGINS") or [])
    if not origins:
        return  # no CORS headers at all: same-origin callers need none
    CORS(
        app,
        resources={r"/api/*": {"origins": [exact_origin(origin) for origin in origins]}},
        methods=["GET", "POST"],
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        supports_credentials=False,
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
        vary_header=True,
    )


def exact_origin(origin: str) -> str | re.Pattern:
    """``origin`` as flask-cors must compare it: the whole text, ignoring case. flask-cors reads an entry
    holding any of ``*?$^[]()\\`` as a regular expression matched as a *prefix* (``https://*.contoso.com``
    would grant ``https://xcontoso.com.evil.example``; ``http://[::1]:5001`` is a character class), so each
    origin goes in as an escaped, anchored pattern. ``*`` alone stays flask-cors' "any origin"
    (development only: config.py refuses it in production)."""
    return origin if origin == "*" else re.compile(re.escape(origin) + r"\Z", re.IGNORECASE)
