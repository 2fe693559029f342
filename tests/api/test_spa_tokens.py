"""The single-page client's tokens at the API (issue #18): a token the SPA registration got is
just a delegated user token, validated like the web tier's; the SPA's tokens for anything else
(its ID token, a token for another API) are refused. Tokens come from the emulator the way
MSAL.js gets them (a public client, PKCE, the browser's ``Origin``: tests/emulator/spa_client.py).
"""

from __future__ import annotations

import pytest

from config import DEV_SPA_CLIENT_ID
from entra_auth.http import build_http_session
from tests.conftest import API_CLIENT_ID
from tests.emulator import spa_client

from .helpers import assert_invalid_token, bearer, claims_of

GRAPH_SCOPES = "https://graph.microsoft.com/User.Read openid profile offline_access"


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


def test_the_spas_token_for_another_audience_is_refused(client, spa_sign_in):
    tokens = spa_sign_in(scope=GRAPH_SCOPES)
    assert claims_of(tokens["access_token"])["aud"] != API_CLIENT_ID
    resp = client.get("/api/orders", headers=bearer(tokens["access_token"]))
    # Graph's tokens carry a header nonce only Graph can verify: refused at the signature, before the audience.
    assert_invalid_token(resp, "bad signature", tokens["access_token"])


def test_the_spas_id_token_is_refused(client, spa_sign_in):
    tokens = spa_sign_in()
    assert claims_of(tokens["id_token"])["aud"] == DEV_SPA_CLIENT_ID
    resp = client.get("/api/orders", headers=bearer(tokens["id_token"]))
    assert resp.status_code == 401 and 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert tokens["id_token"] not in resp.get_data(as_text=True)
