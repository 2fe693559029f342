"""The same ``/orders`` page built the way Microsoft's ``identity`` library builds it.

``identity.flask.Auth`` (its Flask adapter) signs the user in and keeps the
MSAL token cache inside the (Flask-Session, Redis) session, as its samples
do; the page asks it for the user's token and calls the same Orders API tier,
in-process, exactly as the Orders app does, then renders the same template.
Only for benchmarks: it validates no ID token beyond what MSAL does.
"""

from __future__ import annotations

import os

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from flask import render_template
from identity.flask import Auth

from bench.page_shell import PageUser, shell_app
from bench.stack import WEB_CLIENT_ID
from entra_auth.flask_ext import orders_api_client


def _certificate_credential(path: str) -> dict:
    pem = open(path).read()
    cert = x509.load_pem_x509_certificate(pem[pem.index("-----BEGIN CERTIFICATE-----"):].encode())
    return {"private_key": pem, "thumbprint": cert.fingerprint(hashes.SHA1()).hex()}  # noqa: S303 - what MSAL wants


def create_app():
    from app import create_app as create_orders_app

    app = shell_app(__name__)
    app.config.update(
        SECRET_KEY=os.environ["SECRET_KEY"],
        SESSION_TYPE="redis",
        SESSION_REDIS=redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2),
        SESSION_COOKIE_SECURE=True,
    )
    base = os.environ["PUBLIC_BASE_URL"]
    auth = Auth(
        app,
        authority=f"{os.environ['ENTRA_AUTHORITY_HOST']}/organizations",
        client_id=WEB_CLIENT_ID,
        client_credential=_certificate_credential(os.environ["ENTRA_CLIENT_CERTIFICATE_PATH"]),
        redirect_uri=f"{base}/auth/callback",
    )
    # The Orders API tier, in-process, as the Orders app calls it when API_BASE_URL is unset.
    api_app = create_orders_app({"ENABLED_BLUEPRINTS": ["api"]})
    orders_api = orders_api_client(api_app, None, api_app.extensions["entra_auth"].http)
    read_scope = f"api://{os.environ.get('API_CLIENT_ID', '6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8')}/Orders.Read"

    @app.get("/orders")
    @auth.login_required(scopes=[read_scope])
    def orders(*, context):
        response = orders_api.call("GET", "orders", context["access_token"])
        user = PageUser(name=context["user"].get("name", ""), claims=context["user"])
        return render_template("orders.html", orders=response.json()["orders"], draft={}, errors={},
                               current_user=user, web_enabled=True)

    return app
