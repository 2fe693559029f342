"""What the comparison apps need to render the Orders app's own ``orders.html``.

The bare route and the identity-library page render exactly the template
the Orders app renders (same layout, CSRF field, navigation), so a difference
in cost is the identity machinery, not the HTML.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import Blueprint, Flask
from flask_wtf.csrf import CSRFProtect

from bench.stack import ROOT


@dataclass(frozen=True)
class PageUser:
    name: str
    claims: dict = field(default_factory=dict)
    roles: frozenset = frozenset()


def shell_app(name: str) -> Flask:
    app = Flask(name, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    CSRFProtect(app)
    # Endpoints the layout links to (web.*, auth.logout): never requested here.
    for bp_name, endpoints in (("web", ("index", "orders", "create_order", "profile", "admin")),
                               ("auth", ("login", "logout"))):
        bp = Blueprint(bp_name, name, url_prefix=f"/_stub/{bp_name}")
        for endpoint in endpoints:
            bp.add_url_rule(f"/{endpoint}", endpoint, lambda: ("", 404))
        app.register_blueprint(bp)

    @app.template_filter("datetime")
    def _datetime(value: int) -> str:
        return dt.datetime.fromtimestamp(value, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
