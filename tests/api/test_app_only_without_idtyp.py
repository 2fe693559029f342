"""App-only versus delegated without ``idtyp`` (security review, item 4).

``idtyp`` is an optional claim Entra sends only when the API's registration
asks for it (Microsoft's access-token reference, "User and application
tokens"; its sample ``permissionUtils.js`` decides on ``scp`` without it). The
app decides: ``idtyp`` when present; otherwise no ``scp`` and ``oid`` equal to
``sub`` (an app's token names its service principal in both; a user's ``sub``
is pairwise). And an ID token is never an access token, even when the web app
and the API share one registration.
"""

from __future__ import annotations

import pytest

from entra_auth.authorization import is_app_only
from tests.conftest import WEB_CLIENT_ID

from .helpers import ADELE, assert_insufficient_scope, assert_invalid_token, bearer, claims_of


def without(claims: dict, *names: str) -> dict:
    return {k: v for k, v in claims.items() if k not in names}


def test_the_daemons_token_without_idtyp_is_still_app_only(client, tokens, resign):
    claims = without(claims_of(tokens.daemon()), "idtyp")
    assert claims["oid"] == claims["sub"] and "scp" not in claims
    resp = client.get("/api/orders", headers=bearer(resign(claims)))
    assert resp.status_code == 200 and resp.get_json()["scope"] == "tenant", resp.get_json()


def test_a_users_token_without_idtyp_is_delegated(client, tokens, resign):
    claims = without(claims_of(tokens.user()), "idtyp")
    assert "scp" in claims and claims["oid"] != claims["sub"]
    resp = client.get("/api/orders", headers=bearer(resign(claims)))
    assert resp.status_code == 200 and resp.get_json()["scope"] == "own", resp.get_json()


def test_a_users_token_without_scopes_never_passes_for_an_apps(client, tokens, resign):
    """No scp, roles present, but the pairwise sub says a user: no app-only access to the tenant's orders."""
    claims = {**without(claims_of(tokens.user(ADELE)), "scp", "idtyp"), "roles": ["Orders.Read.All"]}
    assert claims["oid"] != claims["sub"]
    token = resign(claims)
    assert_insufficient_scope(client.get("/api/orders", headers=bearer(token)),
                              "Orders.Read", "missing scope", token)


@pytest.mark.parametrize("claims, app_only", [
    ({"idtyp": "app", "oid": "a", "sub": "b"}, True),  # idtyp decides when present
    ({"idtyp": "user", "oid": "a", "sub": "a"}, False),
    ({"oid": "a", "sub": "a"}, True),
    ({"oid": "a", "sub": "a", "scp": "Orders.Read"}, False),
    ({"oid": "a", "sub": "b"}, False),
    ({"sub": "a"}, False),
    ({"oid": None, "sub": None}, False),
])
def test_the_rule(claims, app_only):
    assert is_app_only(claims) is app_only


def test_an_id_token_is_refused_when_the_web_app_and_the_api_share_one_registration(make_app, tokens):
    """One registration for both: the ID token's aud, issuer and signature all fit the API; it names no
    client (no azp), so it is not an access token."""
    client = make_app(API_CLIENT_ID=WEB_CLIENT_ID, API_AUDIENCE=[f"api://{WEB_CLIENT_ID}"]).test_client()
    for username in ("megan@contoso.example", ADELE):
        id_token = tokens.sign_in(username)["id_token"]
        assert claims_of(id_token)["aud"] == WEB_CLIENT_ID and "azp" not in claims_of(id_token)
        assert_invalid_token(client.get("/api/orders", headers=bearer(id_token)), "not an access token", id_token)


def test_access_tokens_name_their_client_in_either_version(make_app, tokens, resign):
    client = make_app(API_ACCEPT_V1_TOKENS=True).test_client()
    claims = claims_of(tokens.user())
    token = resign(without(claims, "azp"))
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "not an access token", token)
    v1 = {**without(claims, "azp", "azpacr"), "ver": "1.0", "iss": f"https://sts.windows.net/{claims['tid']}/",
          "appid": claims["azp"]}
    assert client.get("/api/orders", headers=bearer(resign(v1))).status_code == 200
    token = resign(without(v1, "appid"))
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "not an access token", token)


@pytest.mark.parametrize("requested", [False, True], ids=["idtyp not requested", "idtyp requested"])
def test_the_emulators_app_only_tokens_with_and_without_idtyp(client, tokens, control, requested):
    """As Entra issues them: idtyp only when the API's registration requests the optional claim."""
    if requested:
        assert control.optional_claims("orders-api", ["idtyp"])["optional_claims"] == ["idtyp"]
    token = tokens.client_credentials(fresh=True)
    claims = claims_of(token)
    assert claims.get("idtyp") == ("app" if requested else None)
    assert "idtyp" not in claims_of(tokens.sign_in()["access_token"])  # a user's token carries none either way
    resp = client.get("/api/orders", headers=bearer(token))
    assert resp.status_code == 200 and resp.get_json()["view"] == "tenant", resp.get_json()
    # The same app's token on a user-only endpoint is refused either way.
    assert client.post("/api/orders", json={"item": "Pens", "quantity": 1}, headers=bearer(token)).status_code == 403
