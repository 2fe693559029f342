"""Response hardening for every page: security headers, caching, framing.

CSP without ``unsafe-inline`` (the templates carry no inline script or style);
``form-action`` names the identity provider because the sign-out form is
followed by a redirect there, which browsers check against ``form-action``;
``frame-ancestors 'none'`` everywhere except Entra's front-channel logout,
which Entra loads in an iframe; the single-page client (``/spa/``) may also fetch from the
identity provider and the API it calls, frame the identity provider (MSAL's hidden-iframe
renewal) and be framed by itself (the iframe comes back to ``/spa/``); HSTS in production;
no caching of anything but static files (pages and API answers are per user).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, g, request

from entra_auth.wsgi_transport import IN_PROCESS_ENVIRON_KEY


def init_app(app: Flask) -> None:
    authority = app.config["ENTRA_AUTHORITY_HOST"].rstrip("/")
    base_csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"form-action 'self' {authority}; base-uri 'none'; object-src 'none'"
    )
    common = [
        ("X-Content-Type-Options", "nosniff"),
        # Same-origin only: no path or query of ours leaks to Entra, yet our own form
        # posts carry the Referer that CSRF protection checks on HTTPS.
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ]
    if app.config["APP_ENV"] == "production":
        common.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    # Built once: these headers are on every response (and no view sets them itself).
    framed_nowhere = [("Content-Security-Policy", f"{base_csp}; frame-ancestors 'none'"),
                      ("X-Frame-Options", "DENY"), *common]
    framed_by_idp = [("Content-Security-Policy", f"{base_csp}; frame-ancestors {authority}"), *common]
    spa_api = _origin(app.config.get("SPA_API_BASE_URL"))
    spa_reaches = " ".join(dict.fromkeys(s for s in ("'self'", authority, spa_api) if s))
    spa_page = [("Content-Security-Policy", f"{base_csp}; connect-src {spa_reaches}; "
                                            f"frame-src 'self' {authority}; frame-ancestors 'self'"),
                ("X-Frame-Options", "SAMEORIGIN"), *common]

    @app.after_request
    def _harden(response):
        if request.environ.get(IN_PROCESS_ENVIRON_KEY):
            return response  # the web tier calling its own API in-process: no browser will see this
        if g.get("spa_page"):
            response.headers.extend(spa_page)
        else:
            response.headers.extend(framed_by_idp if g.get("frameable_by_identity_provider") else framed_nowhere)
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response


def _origin(url: str | None) -> str:
    """``scheme://host[:port]`` of ``url``, or "" when unset."""
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
