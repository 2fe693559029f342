"""What the web tier derives from configuration: its external URLs and the API scopes it asks for."""

from __future__ import annotations

from flask import current_app, url_for


def external_url(endpoint: str, **values) -> str:
    """An absolute URL of this app, for redirect URIs and post-logout redirects.

    With ``PUBLIC_BASE_URL`` it is built from that fixed value (never from
    request headers); otherwise from the request as seen after the trusted
    proxy hops (ProxyFix), so a forged ``X-Forwarded-Host`` cannot steer it.
    """
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def api_scope(name: str) -> str:
    """The full scope (``api://<api-id>/Orders.Read``) for a short name, from ``API_SCOPES``."""
    for scope in current_app.config["API_SCOPES"]:
        if scope.rsplit("/", 1)[-1] == name:
            return scope
    raise LookupError(f"API_SCOPES has no scope named {name}")


def sign_in_scopes() -> list[str]:
    """Sign-in asks only for what the landing pages need; other scopes come on first use (incremental consent)."""
    return [api_scope("Orders.Read")]
