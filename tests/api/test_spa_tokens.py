"""The single-page client's tokens at the API (issue #18): a token the SPA registration got is
just a delegated user token, validated like the web tier's; the SPA's tokens for anything else
(its ID token, a token for another API) are refused. Tokens come from the emulator the way
MSAL.js gets them (a public client, PKCE, the browser's ``Origin``: tests/emulator/spa_client.py).
"""

from __future__ import annotations

import pytest

from config import DEV_SPA_CLIENT_ID
from entra_auth.http import build_http_session
from tests.conftest import API_CLIENT_ID, HOME_TENANT_ID
from tests.emulator import spa_client

from .helpers import assert_insufficient_scope, assert_invalid_token, bearer, claims_of, header_of

STORAGE_AUDIENCE = "https://storage.azure.com"
STORAGE_SCOPES = f"{STORAGE_AUDIENCE}/user_impersonation openid profile offline_access"


@pytest.fixture
def spa_sign_in(emulator, http):
    def sign_in(**kwargs) -> dict:
        browser = build_http_session(str(emulator.ca_path))
        try:
            auth, answer = spa_client.sign_in(emulator, browser, **kwargs)
            assert "code" in answer, answer
            resp = spa_client.redeem_code(emulator, http, auth, answer["code"],
                                          scope=kwargs.get("scope", spa_client.LOGIN_SCOPES))
        finally:
            browser.close()
        assert resp.status_code == 200, resp.text
        return resp.json()

    return sign_in


def test_the_spas_token_is_a_delegated_user_token_the_api_accepts(client, spa_sign_in):
    tokens = spa_sign_in()
    claims = claims_of(tokens["access_token"])
    assert claims["aud"] == API_CLIENT_ID and claims["azp"] == DEV_SPA_CLIENT_ID and claims["scp"] == "Orders.Read"
    resp = client.get("/api/orders", headers=bearer(tokens["access_token"]))
    assert resp.status_code == 200 and resp.json["view"] == "own"
    # Orders.Read only: placing an order needs Orders.Write, asked for separately (incremental consent).
    refused = client.post("/api/orders", headers=bearer(tokens["access_token"]), json={"item": "Paper", "quantity": 1})
    assert refused.status_code == 403 and 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]


@pytest.fixture
def spa_storage_token(emulator, http, spa_sign_in) -> str:
    """The SPA's token for Azure Storage, got as MSAL.js's acquireTokenSilent gets a second resource's:
    the refresh token from the Orders sign-in, redeemed without a prompt (the tenant's admin consented)."""
    refresh_token = spa_sign_in()["refresh_token"]
    resp = spa_client.redeem_refresh_token(emulator, http, refresh_token, scope=STORAGE_SCOPES)
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def test_the_spas_token_for_another_audience_is_refused(make_app, spa_storage_token):
    # Azure Storage (first party, in every tenant): v1.0 tokens signed with the tenant's published keys.
    token = spa_storage_token
    claims = claims_of(token)
    assert "nonce" not in header_of(token)  # not Graph's kind: any holder of the tenant's keys can verify it
    assert (claims["ver"], claims["aud"], claims["appid"], claims["scp"]) == (
        "1.0", STORAGE_AUDIENCE, DEV_SPA_CLIENT_ID, "user_impersonation")
    assert claims["iss"] == f"https://sts.windows.net/{HOME_TENANT_ID}/"
    # The default API refuses v1.0 tokens at the version (their issuer) before their audience.
    default = make_app().test_client().get("/api/orders", headers=bearer(token))
    assert_invalid_token(default, "wrong issuer", token)
    # With v1.0 accepted, signature, tenant, issuer and version all pass: the audience alone refuses it,
    # however API_AUDIENCE is set.
    for audiences in ([], [f"api://{API_CLIENT_ID}"]):
        v1_api = make_app(API_ACCEPT_V1_TOKENS=True, API_AUDIENCE=audiences).test_client()
        assert_invalid_token(v1_api.get("/api/orders", headers=bearer(token)), "wrong audience", token)


def test_the_other_audience_is_all_that_refuses_the_spas_storage_token(make_app, spa_storage_token, resign):
    """Control for the test above: the same claims naming the Orders API instead pass validation
    (then lack an Orders scope), so nothing but ``aud`` made the difference."""
    claims = claims_of(spa_storage_token)
    readdressed = resign({**claims, "aud": f"api://{API_CLIENT_ID}"})
    v1_api = make_app(API_ACCEPT_V1_TOKENS=True, API_AUDIENCE=[f"api://{API_CLIENT_ID}"]).test_client()
    assert_insufficient_scope(v1_api.get("/api/orders", headers=bearer(readdressed)), "Orders.Read",
                              "missing scope", readdressed)


def test_the_spas_id_token_is_refused(client, spa_sign_in):
    tokens = spa_sign_in()
    assert claims_of(tokens["id_token"])["aud"] == DEV_SPA_CLIENT_ID
    resp = client.get("/api/orders", headers=bearer(tokens["id_token"]))
    assert resp.status_code == 401 and 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert tokens["id_token"] not in resp.get_data(as_text=True)
