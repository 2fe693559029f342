"""The App Service-style managed identity endpoint, with unmodified msal.ManagedIdentityClient."""

from __future__ import annotations

import msal
import pytest

from entra_emulator.manifest import TOKEN_EXCHANGE_APP_ID
from tests.conftest import HOME_TENANT_ID, MI_CLIENT_ID

from .helpers import SYSTEM_MI_CLIENT_ID, TOKEN_EXCHANGE, strict_validate

USER_ASSIGNED_PRINCIPAL = "d0000004-0000-4000-8000-000000000001"
SYSTEM_PRINCIPAL = "d0000004-0000-4000-8000-000000000002"


@pytest.mark.parametrize(
    ("identity", "client_id", "principal_id"),
    [
        (msal.UserAssignedManagedIdentity(client_id=MI_CLIENT_ID), MI_CLIENT_ID, USER_ASSIGNED_PRINCIPAL),
        (msal.UserAssignedManagedIdentity(object_id=USER_ASSIGNED_PRINCIPAL), MI_CLIENT_ID, USER_ASSIGNED_PRINCIPAL),
        (msal.SystemAssignedManagedIdentity(), SYSTEM_MI_CLIENT_ID, SYSTEM_PRINCIPAL),
    ],
    ids=["user-assigned-by-client-id", "user-assigned-by-object-id", "system-assigned"],
)
def test_msal_managed_identity_gets_tokens(emulator, jwks, control, mi_client, identity, client_id, principal_id):
    client = mi_client(identity)
    seq = control.last_seq()
    result = client.acquire_token_for_client(resource=TOKEN_EXCHANGE)
    assert "access_token" in result, result
    # Entra's token for the exchange: v2.0, naming the exchange by its app id (the URI is the
    # federated credential's spelling of the same resource).
    claims = strict_validate(result["access_token"], jwks, authority_host=emulator.url, audience=TOKEN_EXCHANGE_APP_ID)
    assert claims["ver"] == "2.0" and claims["iss"] == f"{emulator.url}/{HOME_TENANT_ID}/v2.0"
    assert claims["azpacr"] == "2" and "xms_mirid" in claims
    assert claims["sub"] == claims["oid"] == principal_id
    assert claims["azp"] == client_id
    assert claims["tid"] == HOME_TENANT_ID and claims["idtyp"] == "app"
    assert 0 < result["expires_in"] <= 24 * 3600
    # Cached afterwards: one call to the endpoint only.
    again = client.acquire_token_for_client(resource=TOKEN_EXCHANGE)
    assert again["access_token"] == result["access_token"] and again["token_source"] == "cache"
    calls = [e for e in control.requests(seq) if e["endpoint"] == "msi"]
    assert [(e["status"], e["resource"]) for e in calls] == [(200, TOKEN_EXCHANGE)]


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        ({}, {"api-version": "2019-08-01", "resource": TOKEN_EXCHANGE}, 401),
        ({"X-IDENTITY-HEADER": "wrong"}, {"api-version": "2019-08-01", "resource": TOKEN_EXCHANGE}, 401),
        ("right", {"api-version": "2018-02-01", "resource": TOKEN_EXCHANGE}, 400),
        ("right", {"resource": TOKEN_EXCHANGE}, 400),
        ("right", {"api-version": "2019-08-01"}, 400),
        ("right", {"api-version": "2019-08-01", "resource": TOKEN_EXCHANGE,
                   "client_id": "e0000005-0000-4000-8000-0000000000ff"}, 400),
        ("right", {"api-version": "2019-08-01", "resource": TOKEN_EXCHANGE, "mi_res_id": "/subscriptions/x"}, 400),
    ],
    ids=["missing-header", "wrong-header", "wrong-api-version", "no-api-version", "no-resource",
         "unknown-client-id", "resource-id-unsupported"],
)
def test_managed_identity_endpoint_refusals(emulator, http, headers, params, status):
    if headers == "right":
        headers = {"X-IDENTITY-HEADER": emulator.emulator.identity_header}
    resp = http.get(emulator.identity_endpoint, params=params, headers=headers)
    assert resp.status_code == status
    body = resp.json()
    assert body["statusCode"] == status and body["message"]
    assert "access_token" not in body


def test_msal_with_a_wrong_identity_header_gets_an_error(monkeypatch, mi_client):
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
    result = mi_client(msal.SystemAssignedManagedIdentity()).acquire_token_for_client(resource=TOKEN_EXCHANGE)
    assert "access_token" not in result
    assert "401" in result["error_description"]
