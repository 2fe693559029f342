"""Token shapes as Entra issues them: v1.0 vs v2.0 access tokens, headers, JWKS issuer, Graph's tokens.

Sources: Microsoft's access token reference (access-token-claims-reference, access-tokens)
and the ID token reference; each assertion below names what it shows.
"""

from __future__ import annotations

import base64
import hashlib
import json

import jwt
import msal
import pytest

from tests.conftest import (
    API_CLIENT_ID,
    API_DEFAULT,
    API_SCOPE_READ,
    DAEMON_CLIENT_ID,
    GRAPH_USER_READ,
    HOME_TENANT_ID,
    MI_CLIENT_ID,
    WEB_CLIENT_ID,
    confidential_app,
    sign_in_with_msal,
)

from .helpers import fetch_jwks, header_of, unverified

MEGAN = "megan@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"
API_APP_ID_URI = f"api://{API_CLIENT_ID}"
GRAPH_RESOURCE = "https://graph.microsoft.com"
V1_ISSUER = f"https://sts.windows.net/{HOME_TENANT_ID}/"


def _verify_v1(token: str, keys: dict[str, jwt.PyJWK], audience: str) -> dict:
    """What a v1.0-accepting API does: key by kid, RS256, issuer sts.windows.net/{tid}/, one audience."""
    header = jwt.get_unverified_header(token)
    return jwt.decode(token, keys[header["kid"]].key, algorithms=["RS256"], audience=audience, issuer=V1_ISSUER,
                      options={"strict_aud": True, "require": ["exp", "iat", "nbf", "iss", "aud", "tid", "oid"]})


def _daemon_token(emulator, http) -> str:
    result = confidential_app(emulator, http, DAEMON_CLIENT_ID).acquire_token_for_client([API_DEFAULT])
    assert "access_token" in result, result
    return result["access_token"]


# -- v1.0 access tokens ------------------------------------------------------------------------------
def test_v1_delegated_token_as_entra_issues_it(emulator, http, browser, control, jwks):
    control.access_token_version("orders-api", 1)
    _, _, result = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    token = result["access_token"]
    header = header_of(token)
    # v1.0 headers carry the legacy x5t beside kid, with the same value.
    assert header["kid"] in jwks and header["x5t"] == header["kid"] and header["alg"] == "RS256"
    claims = _verify_v1(token, jwks, API_APP_ID_URI)  # aud: the App ID URI, as the scope named it
    assert claims["ver"] == "1.0" and claims["iss"] == V1_ISSUER
    assert claims["appid"] == WEB_CLIENT_ID and claims["appidacr"] == "1"  # secret-authenticated client
    assert claims["upn"] == claims["unique_name"] == MEGAN
    assert claims["oid"] == MEGAN_OID and claims["scp"] == "Orders.Read"
    assert claims["given_name"] == "Megan" and claims["family_name"] == "Bowen"
    assert claims["amr"] == ["pwd"] and claims["acr"] == "1"
    for v2_only in ("azp", "azpacr", "preferred_username"):
        assert v2_only not in claims
    # The ID token is the client's and stays v2.0 whatever the API asks for.
    assert unverified(result["id_token"])["ver"] == "2.0"


def test_v1_audience_is_the_resource_as_the_client_named_it(emulator, http, browser, control, jwks):
    """Requested by client id (``<guid>/Orders.Read``), the v1.0 audience is the GUID."""
    control.access_token_version("orders-api", 1)
    _, _, result = sign_in_with_msal(emulator, http, browser, MEGAN, [f"{API_CLIENT_ID}/Orders.Read"])
    claims = _verify_v1(result["access_token"], jwks, API_CLIENT_ID)
    assert claims["ver"] == "1.0"


def test_v2_delegated_token_names_the_api_by_client_id_even_when_asked_by_uri(emulator, http, browser, jwks):
    _, _, result = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    claims = unverified(result["access_token"])
    assert claims["ver"] == "2.0" and claims["aud"] == API_CLIENT_ID
    assert claims["iss"] == f"{emulator.url}/{HOME_TENANT_ID}/v2.0"
    assert "x5t" not in header_of(result["access_token"])  # v2.0: kid only
    for v1_only in ("appid", "appidacr", "upn", "unique_name"):
        assert v1_only not in claims


def test_v1_app_only_token(emulator, http, control, jwks):
    control.access_token_version("orders-api", 1)
    token = _daemon_token(emulator, http)
    assert header_of(token)["x5t"] == header_of(token)["kid"]
    claims = _verify_v1(token, jwks, API_APP_ID_URI)
    assert claims["ver"] == "1.0" and claims["appid"] == DAEMON_CLIENT_ID and claims["appidacr"] == "1"
    assert claims["idp"] == V1_ISSUER and claims["roles"] == ["Orders.Read.All"]
    assert claims["sub"] == claims["oid"] and "azp" not in claims and "scp" not in claims


def test_the_version_switch_lasts_until_the_reset(emulator, http, control):
    assert unverified(_daemon_token(emulator, http))["ver"] == "2.0"
    answer = control.access_token_version("orders-api", 1)
    assert answer == {"key": "orders-api", "client_id": API_CLIENT_ID, "access_token_version": 1, "optional_claims": []}
    info = http.get(f"{emulator.url}/_emulator/info").json()
    assert {r["key"]: r["access_token_version"] for r in info["registrations"]}["orders-api"] == 1
    assert unverified(_daemon_token(emulator, http))["ver"] == "1.0"
    control.access_token_version(API_CLIENT_ID, 2)  # by client id too
    assert unverified(_daemon_token(emulator, http))["ver"] == "2.0"
    control.access_token_version("orders-api", 1)
    control._post("/reset")
    assert unverified(_daemon_token(emulator, http))["ver"] == "2.0"


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/registrations/nope", {"access_token_version": 1}, 404),
    ("/registrations/orders-api", {"access_token_version": 3}, 400),
    ("/registrations/orders-api", {"access_token_version": "1"}, 400),
    ("/registrations/orders-api", {"access_token_version": True}, 400),
    ("/registrations/orders-api", {}, 400),
])
def test_version_switch_refuses_bad_input(emulator, http, path, body, status):
    resp = http.post(f"{emulator.url}/_emulator{path}", json=body)
    assert resp.status_code == status and "error" in resp.json()


def test_on_behalf_of_accepts_a_v1_assertion(emulator, control, api_app, user_api_token):
    control.access_token_version("orders-api", 1)
    assertion = user_api_token()
    assert unverified(assertion)["iss"] == V1_ISSUER
    result = api_app.acquire_token_on_behalf_of(assertion, [GRAPH_USER_READ])
    assert "access_token" in result, result
    assert unverified(result["access_token"])["oid"] == MEGAN_OID


# -- JWKS --------------------------------------------------------------------------------------------
def test_jwks_keys_carry_the_tenant_independent_issuer(emulator, http):
    """Entra's multi-tenant keys say which issuers they sign for: the {tenantid} template."""
    keys = http.get(f"{emulator.url}/common/discovery/v2.0/keys").json()["keys"]
    assert keys and all(k["issuer"] == f"{emulator.url}/{{tenantid}}/v2.0" for k in keys)
    token = _daemon_token(emulator, http)
    claims = unverified(token)
    (key,) = [k for k in keys if k["kid"] == header_of(token)["kid"]]
    assert key["issuer"].replace("{tenantid}", claims["tid"]) == claims["iss"]


# -- Microsoft Graph's own tokens -------------------------------------------------------------------
def _graph_token_on_behalf_of(api_app, user_api_token) -> str:
    result = api_app.acquire_token_on_behalf_of(user_api_token(), [GRAPH_USER_READ])
    assert "access_token" in result, result
    return result["access_token"]


def _graph_token_app_only(mi_client) -> str:
    client = mi_client(msal.UserAssignedManagedIdentity(client_id=MI_CLIENT_ID))
    result = client.acquire_token_for_client(resource=GRAPH_RESOURCE)
    assert "access_token" in result, result
    return result["access_token"]


def _me(emulator, http, token: str):
    return http.get(f"{emulator.url}/v1.0/me", headers={"Authorization": f"Bearer {token}"})


def _rs256_verifies(token: str, keys: dict[str, jwt.PyJWK]) -> bool:
    header = jwt.get_unverified_header(token)
    try:
        jwt.decode(token, keys[header["kid"]].key, algorithms=["RS256"], options={"verify_aud": False})
    except jwt.InvalidSignatureError:
        return False
    return True


def test_graph_on_behalf_of_token_is_v1_and_verifiable_only_by_graph(emulator, http, jwks, api_app, user_api_token):
    token = _graph_token_on_behalf_of(api_app, user_api_token)
    header, claims = header_of(token), unverified(token)
    assert claims["ver"] == "1.0" and claims["aud"] == GRAPH_RESOURCE and claims["iss"] == V1_ISSUER
    assert claims["appid"] == API_CLIENT_ID and claims["scp"] == "User.Read"
    assert header["nonce"] and header["x5t"] == header["kid"] in jwks
    # A plain RS256 verification with the published key fails, as for real Graph tokens...
    assert not _rs256_verifies(token, jwks)
    # ...while Graph, which hashes the nonce back before verifying, accepts it.
    resp = _me(emulator, http, token)
    assert resp.status_code == 200, resp.text
    assert resp.json()["id"] == MEGAN_OID
    # The trick, shown: the signature covers the header with base64url(SHA-256(nonce)).
    hashed = base64.urlsafe_b64encode(hashlib.sha256(header["nonce"].encode()).digest()).rstrip(b"=").decode()
    signed_header = {**header, "nonce": hashed}
    segment = base64.urlsafe_b64encode(json.dumps(signed_header, separators=(",", ":")).encode()).rstrip(b"=").decode()
    assert _rs256_verifies(".".join([segment, *token.split(".")[1:]]), jwks)


def test_graph_app_only_token_is_v1_with_a_nonce(emulator, http, jwks, mi_client):
    token = _graph_token_app_only(mi_client)
    claims = unverified(token)
    assert claims["ver"] == "1.0" and claims["aud"] == GRAPH_RESOURCE and claims["iss"] == V1_ISSUER
    assert claims["appid"] == MI_CLIENT_ID and claims["appidacr"] == "2" and "idtyp" not in claims
    assert "nonce" in header_of(token) and not _rs256_verifies(token, jwks)
    # Graph validates it (then refuses /me to an app-only token: 403, not the 401 of a bad token).
    assert _me(emulator, http, token).status_code == 403


def test_graph_token_with_a_tampered_nonce_is_refused_by_graph(emulator, http, api_app, user_api_token):
    token = _graph_token_on_behalf_of(api_app, user_api_token)
    header = header_of(token)
    header["nonce"] = header["nonce"][:-2] + ("AA" if header["nonce"][-2:] != "AA" else "BB")
    segment = base64.urlsafe_b64encode(json.dumps(header, separators=(",", ":")).encode()).rstrip(b"=").decode()
    assert _me(emulator, http, ".".join([segment, *token.split(".")[1:]])).status_code == 401


def test_graph_token_requested_by_bare_scope_names_graph_by_app_id(emulator, http, browser):
    """A bare scope (``User.Read``) names Graph by default; v1.0 ``aud`` is then Graph's app id."""
    _, _, result = sign_in_with_msal(emulator, http, browser, MEGAN, ["User.Read"])
    claims = unverified(result["access_token"])
    assert claims["ver"] == "1.0" and claims["aud"] == "00000003-0000-0000-c000-000000000000"
    assert _me(emulator, http, result["access_token"]).status_code == 200
