"""API_CORS_ORIGINS entries are origins, never patterns (security review of issue #18).

flask-cors reads any entry holding one of ``* \\ ] ? $ ^ [ ( )`` as a regular
expression and matches it with ``re.match``: a *prefix* match in which ``.`` is any
character. ``https://*.contoso.example`` (the wildcard a deployment writes for "all
my subdomains") thereby grants ``https://xcontoso.example.evil.example``, a site
anyone can register. The setting must refuse such entries with a clear message at
start-up, and an origin the app does allow must be compared as the exact text it is.
"""

from __future__ import annotations

import pytest
from flask import Flask

from config import ConfigError, load_config
from entra_auth import flask_api_cors
from tests.test_config import SAFE_PRODUCTION

from .helpers import bearer

WILDCARD = "https://*.contoso.example"
# What an attacker registers so that the pattern's prefix match accepts it.
ATTACKER_ORIGINS = {
    WILDCARD: "https://xcontoso.example.evil.example",
    "https://spa.contoso.example$": "https://spaXcontoso.example",
    "https://(spa|app).contoso.example": "https://spa.contoso.example.evil.example",
}


@pytest.mark.parametrize("pattern", [*ATTACKER_ORIGINS, "https://[a-z]+.contoso.example", "https://spa.contoso.example)"])
def test_an_origin_pattern_is_refused_at_start_up_with_a_clear_message(make_app, pattern):
    with pytest.raises(ConfigError, match="API_CORS_ORIGINS must list origins"):
        make_app(API_CORS_ORIGINS=[pattern])


def test_production_refuses_a_wildcard_subdomain_too():
    with pytest.raises(ConfigError, match="API_CORS_ORIGINS must list origins"):
        load_config({**SAFE_PRODUCTION, "API_CORS_ORIGINS": WILDCARD})


@pytest.mark.parametrize("pattern", ATTACKER_ORIGINS)
def test_an_attackers_origin_gets_no_grant_from_a_pattern_like_entry(pattern):
    """The adapter on its own (an app whose settings did not pass through config.py's posture):
    each entry is compared as text, so the attacker's site is not granted."""
    app = Flask(__name__)
    app.config["API_CORS_ORIGINS"] = [pattern]
    app.add_url_rule("/api/orders", "orders", lambda: {"orders": []})
    flask_api_cors.init_app(app)
    client = app.test_client()
    attacker = ATTACKER_ORIGINS[pattern]
    preflight = client.options("/api/orders", headers={"Origin": attacker, "Access-Control-Request-Method": "GET",
                                                       "Access-Control-Request-Headers": "authorization"})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    resp = client.get("/api/orders", headers={"Origin": attacker})
    assert resp.status_code == 200 and "Access-Control-Allow-Origin" not in resp.headers
    # The entry itself, as text, is still what it names (nobody's browser sends it, but it is not a pattern).
    assert client.get("/api/orders", headers={"Origin": pattern}).headers.get("Access-Control-Allow-Origin") == pattern


def test_an_allowed_origin_is_still_granted_case_insensitively(make_app, tokens):
    client = make_app(API_CORS_ORIGINS=["https://SPA.contoso.example"]).test_client()
    resp = client.get("/api/orders", headers={"Origin": "https://spa.contoso.example", **bearer(tokens.user())})
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "https://spa.contoso.example"


def test_an_ipv6_origin_is_compared_as_text_not_as_a_character_class(make_app):
    # "[::1]" is a character class to a regular expression: the origin itself would never match it.
    client = make_app(API_CORS_ORIGINS=["http://[::1]:5001"]).test_client()
    assert client.get("/api/orders", headers={"Origin": "http://[::1]:5001"}).headers.get(
        "Access-Control-Allow-Origin") == "http://[::1]:5001"
    assert "Access-Control-Allow-Origin" not in client.get("/api/orders", headers={"Origin": "http://1:5001"}).headers
