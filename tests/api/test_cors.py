"""CORS for browsers (a SPA on another origin): the configured origins only, no cookies,
the challenge readable, the same validation (issue #18, item 4)."""

from __future__ import annotations

import pytest

from config import ConfigError, load_config
from tests.conftest import API_SCOPE_READ
from tests.test_config import SAFE_PRODUCTION

from .helpers import bearer

SPA_ORIGIN = "https://spa.contoso.example"
FOREIGN_ORIGIN = "https://evil.example"


def _preflight(client, origin: str, method: str = "POST", headers: str = "authorization,content-type"):
    return client.options("/api/orders", headers={"Origin": origin, "Access-Control-Request-Method": method,
                                                  "Access-Control-Request-Headers": headers})


def _listed(value: str | None) -> set[str]:
    return {v.strip().lower() for v in (value or "").split(",") if v.strip()}


@pytest.fixture
def cors_client(make_app):
    return make_app(API_CORS_ORIGINS=[SPA_ORIGIN]).test_client()


def test_the_spa_origins_preflight_allows_a_bearer_token_and_json(cors_client):
    resp = _preflight(cors_client, SPA_ORIGIN)
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN, "echoed, never *"
    assert _listed(resp.headers.get("Access-Control-Allow-Headers")) == {"authorization", "content-type"}
    assert {"GET", "POST"} <= {m.strip() for m in resp.headers["Access-Control-Allow-Methods"].split(",")}
    assert "Access-Control-Allow-Credentials" not in resp.headers, "no cookies: bearer tokens only"
    # The answer depends on Origin: no cache may keep it for another origin (flask-cors adds Vary: Origin
    # only when several origins are configured; every API answer is no-store anyway).
    assert resp.headers["Cache-Control"] == "no-store"


def test_a_preflight_asking_for_another_header_gets_only_what_is_allowed(cors_client):
    resp = _preflight(cors_client, SPA_ORIGIN, headers="authorization,x-evil")
    assert "x-evil" not in _listed(resp.headers.get("Access-Control-Allow-Headers"))


@pytest.mark.parametrize("origin", [FOREIGN_ORIGIN, "null", SPA_ORIGIN + ".evil.example", "http://spa.contoso.example",
                                    SPA_ORIGIN + ":444"])
def test_a_foreign_origin_gets_no_cors_grant(cors_client, tokens, origin):
    preflight = _preflight(cors_client, origin)
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Headers" not in preflight.headers
    # A simple GET still reaches the API (CORS is the browser's rule), but its script may not read the answer.
    resp = cors_client.get("/api/orders", headers={"Origin": origin, **bearer(tokens.user())})
    assert resp.status_code == 200
    assert not any(h.lower().startswith("access-control-") for h in resp.headers.keys()), dict(resp.headers)


def test_the_spa_origin_reads_its_orders_and_no_credentials_are_allowed(cors_client, tokens):
    resp = cors_client.get("/api/orders", headers={"Origin": SPA_ORIGIN, **bearer(tokens.user())})
    assert resp.status_code == 200 and resp.json["orders"] == []
    assert resp.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert "Access-Control-Allow-Credentials" not in resp.headers
    assert "www-authenticate" in _listed(resp.headers["Access-Control-Expose-Headers"])


@pytest.mark.parametrize("case", ["no token", "bad token", "missing scope"])
def test_a_refusal_carries_the_grant_and_exposes_the_challenge(cors_client, tokens, case):
    headers = {"Origin": SPA_ORIGIN}
    if case == "bad token":
        headers.update(bearer("not.a.token"))
    elif case == "missing scope":
        headers.update(bearer(tokens.user(scopes=(API_SCOPE_READ,))))
    method = cors_client.post if case == "missing scope" else cors_client.get
    resp = method("/api/orders", headers=headers, json={"item": "Paper", "quantity": 1})
    assert resp.status_code == (403 if case == "missing scope" else 401)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert resp.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN, "the SPA must be able to read the refusal"
    assert "www-authenticate" in _listed(resp.headers["Access-Control-Expose-Headers"])
    assert "Access-Control-Allow-Credentials" not in resp.headers


def test_the_web_pages_answer_no_origin(cors_client):
    for path in ("/", "/healthz"):
        resp = cors_client.get(path, headers={"Origin": SPA_ORIGIN})
        assert "Access-Control-Allow-Origin" not in resp.headers, path


def test_no_origin_is_allowed_by_default(make_app, tokens):
    client = make_app().test_client()
    assert "Access-Control-Allow-Origin" not in _preflight(client, SPA_ORIGIN).headers
    resp = client.get("/api/orders", headers={"Origin": SPA_ORIGIN, **bearer(tokens.user())})
    assert resp.status_code == 200 and "Access-Control-Allow-Origin" not in resp.headers


# -- the setting ------------------------------------------------------------------------------------

def test_production_refuses_any_origin():
    assert load_config({**SAFE_PRODUCTION, "API_CORS_ORIGINS": SPA_ORIGIN})["API_CORS_ORIGINS"] == [SPA_ORIGIN]
    with pytest.raises(ConfigError, match=r"API_CORS_ORIGINS=\* lets scripts of every site call the API"):
        load_config({**SAFE_PRODUCTION, "API_CORS_ORIGINS": f"{SPA_ORIGIN},*"})


DEVELOPMENT = {"APP_ENV": "development", "ENTRA_CA_BUNDLE": None}  # no emulator CA file needed to judge this


def test_development_warns_about_any_origin():
    settings = load_config(environ={}, overrides={**DEVELOPMENT, "API_CORS_ORIGINS": ["*"]})
    assert any(item == "API_CORS_ORIGINS" and "production refuses it" in message
               for item, message in settings["CONFIG_WARNINGS"])


@pytest.mark.parametrize("origin", ["https://spa.example/", "https://spa.example/app", "spa.example",
                                    "ftp://spa.example", "https://user@spa.example", "https://spa.example:99999"])
def test_an_entry_that_is_not_an_origin_is_refused_everywhere(origin):
    with pytest.raises(ConfigError, match="API_CORS_ORIGINS must list origins"):
        load_config(environ={}, overrides={**DEVELOPMENT, "API_CORS_ORIGINS": [origin]})


def test_the_environment_variable_is_a_comma_list():
    settings = load_config(environ={"API_CORS_ORIGINS": f"{SPA_ORIGIN}, http://localhost:5001"},
                           overrides={"ENTRA_CA_BUNDLE": None})
    assert settings["API_CORS_ORIGINS"] == [SPA_ORIGIN, "http://localhost:5001"]
