"""Response hardening for every page: security headers, caching, framing.

CSP without ``unsafe-inline`` (the templates carry no inline script or style);
``form-action`` names the identity provider because the sign-out form is
followed by a redirect there, which browsers check against ``form-action``;
``frame-ancestors 'none'`` everywhere except Entra's front-channel logout,
which Entra loads in an iframe; HSTS in production; no caching of anything
but static files (pages and API answers are per user).
"""

from __future__ import annotations

from flask import Flask, g, request


def init_app(app: Flask) -> None:
    authority = app.config["ENTRA_AUTHORITY_HOST"].rstrip("/")
    base_csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"form-action 'self' {authority}; base-uri 'none'; object-src 'none'"
    )
    hsts = app.config["APP_ENV"] == "production"

    @app.after_request
    def _harden(response):
        headers = response.headers
        if g.get("frameable_by_identity_provider"):
            headers["Content-Security-Policy"] = f"{base_csp}; frame-ancestors {authority}"
        else:
            headers["Content-Security-Policy"] = f"{base_csp}; frame-ancestors 'none'"
            headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        # Same-origin only: no path or query of ours leaks to Entra, yet our own form
        # posts carry the Referer that CSRF protection checks on HTTPS.
        headers["Referrer-Policy"] = "same-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if hsts:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if not request.path.startswith("/static/"):
            headers["Cache-Control"] = "no-store"
        return response
