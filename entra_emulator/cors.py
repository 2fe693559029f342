"""CORS on the endpoints a browser's MSAL.js fetches, the way Entra answers them.

* Discovery and JWKS: every answer carries ``Access-Control-Allow-Origin: *`` and
  ``Access-Control-Allow-Methods: GET, OPTIONS``, whoever asks (recorded Entra answers).
* Token endpoint: a cross-origin POST (it carries ``Origin``) is answered with
  ``Access-Control-Allow-Origin: *``, errors included, so the browser can read Entra's error
  (AADSTS9002326, AADSTS700084...) rather than a bare network failure. A preflight is not granted:
  MSAL.js keeps ``/token`` a simple request (form body, no custom headers) because Entra does not
  answer ``OPTIONS`` there. A server's request (no ``Origin``) gets no CORS headers.

Sources: docs/emulator-fidelity.md, "Rows added with the single-page client (#18)".
"""

from __future__ import annotations

from werkzeug.datastructures import Headers

METADATA_ENDPOINTS = frozenset({"discovery", "jwks"})


def add_cors_headers(headers: Headers, *, endpoint: str | None, method: str, origin: str | None) -> None:
    """Add Entra's CORS headers to the answer of ``endpoint`` (the emulator's endpoint name)."""
    if endpoint in METADATA_ENDPOINTS:
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Access-Control-Allow-Methods"] = "GET, OPTIONS"
    elif endpoint == "token" and method == "POST" and origin:
        headers["Access-Control-Allow-Origin"] = "*"
