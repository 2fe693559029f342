"""Which of the emulator's pages a frame may show, as on Entra.

Entra's sign-in pages refuse to be framed (``X-Frame-Options: DENY``: "the credentials gathering
experience cannot be iframed"), so a silent renewal in a hidden frame can only ever receive an
authorization answer: ``prompt=none`` is answered by a redirect (or a form_post page that carries
no user interface) to the app, never by a page asking the user something. Sources:
docs/emulator-fidelity.md, "Rows added with the single-page client (#18)".
"""

from __future__ import annotations

from werkzeug.datastructures import Headers


def deny_framing(headers: Headers) -> None:
    """Forbid every frame (both headers: CSP for current browsers, X-Frame-Options for the rest)."""
    headers["X-Frame-Options"] = "DENY"
    headers["Content-Security-Policy"] = "frame-ancestors 'none'"
