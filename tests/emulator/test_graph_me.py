"""The Graph-like /v1.0/me: delegated tokens only, and CAE claims challenges."""

from __future__ import annotations

import base64
import json
import re

import msal
import pytest

from tests.conftest import API_CLIENT_ID, GRAPH_USER_READ, MI_CLIENT_ID

MEGAN = "megan@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"


@pytest.fixture
def graph_token(api_app, user_api_token):
    """A user's Graph token, the way the API gets it: on-behalf-of."""

    def get() -> str:
        result = api_app.acquire_token_on_behalf_of(user_api_token(), [GRAPH_USER_READ])
        assert "access_token" in result, result
        return result["access_token"]

    return get


def _me(emulator, http, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.get(f"{emulator.url}/v1.0/me", headers=headers)


def test_on_behalf_of_token_reads_the_user(emulator, http, graph_token, control):
    seq = control.last_seq()
    resp = _me(emulator, http, graph_token())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"] == MEGAN_OID
    assert body["userPrincipalName"] == MEGAN and body["displayName"] == "Megan Bowen"
    (call,) = [e for e in control.requests(seq) if e["endpoint"] == "graph"]
    assert call["bearer"]["grant"] == "on_behalf_of" and call["bearer"]["oid"] == MEGAN_OID


def test_no_token_is_401_with_a_bearer_challenge(emulator, http):
    resp = _me(emulator, http, None)
    assert resp.status_code == 401
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'client_id="00000003-0000-0000-c000-000000000000"' in challenge
    assert resp.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_app_only_token_is_403(emulator, http, mi_client):
    client = mi_client(msal.UserAssignedManagedIdentity(client_id=MI_CLIENT_ID))
    token = client.acquire_token_for_client(resource="https://graph.microsoft.com")["access_token"]
    resp = _me(emulator, http, token)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "Authorization_RequestDenied"


def test_token_for_another_audience_is_401(emulator, user_api_token, http):
    assert _me(emulator, http, user_api_token()).status_code == 401


@pytest.mark.parametrize("fault", ["expired", "unknown_kid", "bad_signature", "unsigned", "hs256_public_key", "wrong_iss"])
def test_faulty_graph_token_is_401(emulator, http, control, graph_token, fault):
    control.token_fault(fault, token_type="access_token", client_id=API_CLIENT_ID)
    resp = _me(emulator, http, graph_token())
    assert resp.status_code == 401, resp.text
    assert resp.headers["WWW-Authenticate"].startswith("Bearer ")


def test_revoked_user_gets_an_insufficient_claims_challenge(emulator, http, control, graph_token):
    token = graph_token()
    assert _me(emulator, http, token).status_code == 200
    revoked = control.revoke(MEGAN)
    resp = _me(emulator, http, token)
    assert resp.status_code == 401
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_claims"' in challenge
    encoded = re.search(r'claims="([^"]+)"', challenge).group(1)
    claims = json.loads(base64.b64decode(encoded))
    assert claims == {"access_token": {"nbf": {"essential": True, "value": str(revoked["revoked_at"])}}}
