"""The page at /spa/: its settings for the script, its CSP, and when it is served at all."""

from __future__ import annotations

import re

import pytest

from config import DEV_SPA_CLIENT_ID
from tests.conftest import API_CLIENT_ID, app_settings

API_ORIGIN = "https://orders-api.contoso.example"


@pytest.fixture
def make_client(emulator, redis_server, redis_client):
    from app import create_app

    def make(**overrides):
        return create_app(app_settings(emulator, redis_server, **overrides)).test_client()

    return make


def _csp(resp) -> dict[str, str]:
    [policy] = resp.headers.get_all("Content-Security-Policy")
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in (p.strip() for p in policy.split(";")) if " " in d}


def test_the_page_carries_the_scripts_settings_and_no_inline_script(make_client, emulator):
    resp = make_client(SPA_API_BASE_URL=API_ORIGIN).get("/spa/")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert f'data-client-id="{DEV_SPA_CLIENT_ID}"' in page and f'data-authority-host="{emulator.url}"' in page
    assert f'data-scope-read="api://{API_CLIENT_ID}/Orders.Read"' in page
    assert f'data-scope-write="api://{API_CLIENT_ID}/Orders.Write"' in page
    assert f'data-api-base="{API_ORIGIN}"' in page
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S)
    assert scripts == [""], "one script, loaded from a file: nothing inline"
    assert '<script type="module" src="/static/spa/orders-spa.js">' in page
    assert "Set-Cookie" not in resp.headers, "the page starts no server-side session"


def test_the_pages_csp_reaches_only_the_identity_provider_and_the_api(make_client, emulator):
    resp = make_client(SPA_API_BASE_URL=f"{API_ORIGIN}/").get("/spa/")
    csp = _csp(resp)
    assert csp["script-src"] == "'self'" and "unsafe" not in resp.headers["Content-Security-Policy"]
    assert csp["connect-src"] == f"'self' {emulator.url} {API_ORIGIN}"
    assert csp["frame-src"] == f"'self' {emulator.url}", "MSAL's hidden frame goes to the identity provider"
    assert csp["frame-ancestors"] == "'self'" and resp.headers["X-Frame-Options"] == "SAMEORIGIN", \
        "framed only by itself (the hidden frame comes back to /spa/)"
    # Every other page keeps the strict policy.
    other = _csp(make_client(SPA_API_BASE_URL=API_ORIGIN).get("/"))
    assert "connect-src" not in other and other["frame-ancestors"] == "'none'"


def test_same_origin_the_csp_names_no_other_api(make_client, emulator):
    csp = _csp(make_client().get("/spa/"))
    assert csp["connect-src"] == f"'self' {emulator.url}"


def test_no_spa_registration_no_page(make_client):
    assert make_client(SPA_CLIENT_ID=None).get("/spa/").status_code == 404


def test_production_refuses_a_plain_http_api_for_the_spa():
    from config import ConfigError, load_config
    from tests.test_config import SAFE_PRODUCTION

    assert load_config({**SAFE_PRODUCTION, "SPA_API_BASE_URL": API_ORIGIN})["SPA_API_BASE_URL"] == API_ORIGIN
    with pytest.raises(ConfigError, match="SPA_API_BASE_URL must be https://"):
        load_config({**SAFE_PRODUCTION, "SPA_API_BASE_URL": "http://orders-api.contoso.example"})
