"""Issued tokens verify with PyJWT against the JWKS and carry Entra v2.0 claims."""

from __future__ import annotations

import tomllib
from pathlib import Path

import jwt
import pytest

from entra_auth.http import build_http_session
from entra_emulator import EmulatorServer
from tests.conftest import (
    API_CLIENT_ID,
    API_SCOPE_READ,
    APP_BASE_URL,
    FOREIGN_TENANT_ID,
    HOME_TENANT_ID,
    WEB_CLIENT_ID,
    sign_in_with_msal,
)

from .helpers import fetch_jwks, header_of, sent_nonce, strict_validate

USERS = {
    "megan@contoso.example": ("a0000001-0000-4000-8000-000000000001", HOME_TENANT_ID, "Megan Bowen", None),
    "adele@contoso.example": ("a0000001-0000-4000-8000-000000000002", HOME_TENANT_ID, "Adele Vance", ["Orders.Admin"]),
    "lee@fabrikam.example": ("b0000002-0000-4000-8000-000000000001", FOREIGN_TENANT_ID, "Lee Gu", ["Orders.Admin"]),
}
BOTH_TENANTS = frozenset({HOME_TENANT_ID, FOREIGN_TENANT_ID})


@pytest.mark.parametrize("username", sorted(USERS))
def test_id_token_verifies_and_carries_user_claims(emulator, http, browser, jwks, username):
    oid, tid, name, roles = USERS[username]
    _, flow, result = sign_in_with_msal(emulator, http, browser, username, [API_SCOPE_READ])
    token = result["id_token"]
    header = header_of(token)
    # v2.0 tokens carry kid only; x5t is a legacy v1.0 header (id-token-claims-reference).
    assert header["alg"] == "RS256" and header["kid"] in jwks and "x5t" not in header
    claims = strict_validate(token, jwks, authority_host=emulator.url, audience=WEB_CLIENT_ID,
                             tenants=BOTH_TENANTS, nonce=sent_nonce(flow))
    assert claims["iss"] == f"{emulator.url}/{tid}/v2.0"
    assert claims["ver"] == "2.0"
    assert claims["tid"] == tid and claims["oid"] == oid
    assert claims["preferred_username"] == username and claims["name"] == name
    assert claims["sid"] and claims["sub"] and claims["sub"] != oid
    assert claims.get("roles") == roles
    assert claims["iat"] <= claims["nbf"] + 1 and claims["exp"] > claims["iat"]


@pytest.mark.parametrize("username", sorted(USERS))
def test_access_token_verifies_and_carries_delegated_claims(emulator, http, browser, jwks, username):
    oid, tid, _, roles = USERS[username]
    _, _, result = sign_in_with_msal(emulator, http, browser, username, [API_SCOPE_READ])
    token = result["access_token"]
    header = header_of(token)
    assert header["kid"] in jwks and "x5t" not in header  # v2.0: kid only
    claims = strict_validate(token, jwks, authority_host=emulator.url, audience=API_CLIENT_ID, tenants=BOTH_TENANTS)
    assert claims["iss"] == f"{emulator.url}/{tid}/v2.0"
    assert claims["ver"] == "2.0"
    assert claims["azp"] == WEB_CLIENT_ID
    assert claims["azpacr"] == "1"  # the web app authenticated with its secret
    assert claims["scp"] == "Orders.Read"
    assert claims["oid"] == oid and claims["tid"] == tid
    assert claims["uti"]
    assert claims.get("roles") == roles
    assert "idtyp" not in claims
    assert result["expires_in"] == claims["exp"] - claims["iat"]


def test_tokens_of_one_tenant_are_refused_by_an_app_accepting_only_another(emulator, http, browser, jwks):
    _, _, result = sign_in_with_msal(emulator, http, browser, "lee@fabrikam.example", [API_SCOPE_READ])
    with pytest.raises(jwt.InvalidIssuerError, match="not accepted"):
        strict_validate(result["access_token"], jwks, authority_host=emulator.url, audience=API_CLIENT_ID)


def test_sub_is_pairwise_per_audience(emulator, http, jwks):
    """Same user: one sub in the web app's ID token, another in the API's access token."""
    subs = {}
    for username in ("megan@contoso.example", "adele@contoso.example"):
        for attempt in range(2):
            browser = build_http_session(str(emulator.ca_path))
            _, _, result = sign_in_with_msal(emulator, http, browser, username, [API_SCOPE_READ])
            id_sub = strict_validate(result["id_token"], jwks, authority_host=emulator.url, audience=WEB_CLIENT_ID)["sub"]
            at_sub = strict_validate(result["access_token"], jwks, authority_host=emulator.url, audience=API_CLIENT_ID)["sub"]
            subs.setdefault(username, set()).add((id_sub, at_sub))
    for username, pairs in subs.items():
        assert len(pairs) == 1, f"sub of {username} is not stable"
        (id_sub, at_sub), = pairs
        assert id_sub != at_sub
    assert subs["megan@contoso.example"] != subs["adele@contoso.example"]


# -- two client apps signing in the same user ------------------------------------------------------
SECOND_WEB_CLIENT_ID = "7a7a7a7a-0000-4000-8000-00000000b0b0"
SECOND_WEB_SECRET = "dev-only-second-web-secret"
SECOND_WEB = f"""
[[registrations]]
key = "orders-backoffice"
display_name = "Orders back office"
client_id = "{SECOND_WEB_CLIENT_ID}"
home_tenant = "home"
sign_in_audience = "AzureADMyOrg"
require_pkce = true
redirect_uris = ["{{app_base_url}}/auth/callback"]

  [[registrations.credentials]]
  type = "secret"
  value = "{SECOND_WEB_SECRET}"
"""


@pytest.fixture(scope="module")
def two_apps_emulator(tmp_path_factory):
    """An emulator whose manifest has a second web client (the stock one has only one that signs users in)."""
    stock = Path(__file__).resolve().parents[2] / "entra_emulator" / "manifest.toml"
    manifest = tmp_path_factory.mktemp("manifest") / "manifest.toml"
    manifest.write_text(stock.read_text() + SECOND_WEB)
    tomllib.loads(manifest.read_text())  # still valid TOML
    server = EmulatorServer(port=0, state_dir=tmp_path_factory.mktemp("two-apps"), manifest_path=manifest,
                            app_base_urls=[APP_BASE_URL]).start()
    yield server
    server.stop()


def test_sub_is_pairwise_across_two_client_apps(two_apps_emulator, monkeypatch):
    import tests.conftest as shared

    emulator = two_apps_emulator
    http = build_http_session(str(emulator.ca_path))
    keys = fetch_jwks(http, emulator)
    monkeypatch.setitem(shared.SECRETS, SECOND_WEB_CLIENT_ID, SECOND_WEB_SECRET)
    claims = {}
    for client_id in (WEB_CLIENT_ID, SECOND_WEB_CLIENT_ID):
        browser = build_http_session(str(emulator.ca_path))
        _, flow, result = sign_in_with_msal(emulator, http, browser, "megan@contoso.example", [],
                                            client_id=client_id, tenant=HOME_TENANT_ID)
        assert "id_token" in result, result
        claims[client_id] = strict_validate(result["id_token"], keys, authority_host=emulator.url,
                                            audience=client_id, nonce=sent_nonce(flow))
    web, second = claims[WEB_CLIENT_ID], claims[SECOND_WEB_CLIENT_ID]
    assert web["oid"] == second["oid"] == USERS["megan@contoso.example"][0]
    assert web["sub"] != second["sub"]
