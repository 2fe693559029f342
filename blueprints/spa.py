"""The single-page client at ``/spa/``: one static page and one bundled script (spa/, built
into static/spa/orders-spa.js). The browser signs in with MSAL.js as the SPA registration
(``SPA_CLIENT_ID``, a public client) and calls ``/api/*`` with its own bearer tokens; this
blueprint only serves the page with the settings its script reads (data attributes: no
inline script). It never reads or writes the web tier's session.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template

bp = Blueprint("spa", __name__, url_prefix="/spa")


def scope(name: str) -> str:
    """The full scope the SPA asks for, as the web tier asks for it (API_SCOPES), else the API's App ID URI form."""
    cfg = current_app.config
    for full in cfg.get("API_SCOPES") or []:
        if full.rsplit("/", 1)[-1] == name:
            return full
    return f"api://{cfg['API_CLIENT_ID']}/{name}"


@bp.get("/")
def page():
    cfg = current_app.config
    g.spa_page = True  # http_hardening: the CSP lets the script reach the identity provider and the API
    settings = {
        "client_id": cfg["SPA_CLIENT_ID"],
        "authority_host": cfg["ENTRA_AUTHORITY_HOST"].rstrip("/"),
        "tenant": cfg["ENTRA_TENANT_ID"],
        "api_base": cfg.get("SPA_API_BASE_URL"),
        "scope_read": scope("Orders.Read"),
        "scope_write": scope("Orders.Write"),
    }
    return render_template("spa.html", spa=settings)
