"""Audiences by token version, as Entra issues them (issue: real Entra, not only our emulator).

A v2.0 access token's ``aud`` is the API's client id GUID, whatever App ID URI
the client asked for; a v1.0 token's is what it asked for (the App ID URI, or
the client id). The README tells a deployment to set ``API_AUDIENCE`` to the
App ID URI: that must never make the API refuse Entra's own v2.0 tokens, which
is exactly what it once did (every call 401, a sign-in loop for the user).
"""

from __future__ import annotations

import pytest

from tests.conftest import API_CLIENT_ID, HOME_TENANT_ID

from .helpers import MEGAN, assert_invalid_token, bearer, claims_of

APP_ID_URI = f"api://{API_CLIENT_ID}"
CUSTOM_URI = "https://orders.contoso.example"
STRANGER = "99999999-9999-4999-8999-999999999999"
V1_ISSUER = "https://sts.windows.net/{tid}/"

# API_AUDIENCE as a user may set it: unset, the README's App ID URI, or several URIs.
AUDIENCE_SETTINGS = {
    "unset": [],
    "app-id-uri": [APP_ID_URI],
    "two-uris": [APP_ID_URI, CUSTOM_URI],
}


def as_v1(claims: dict, aud: str) -> dict:
    """The same grant as Entra's v1.0 endpoint words it (Microsoft's access-token reference:
    ``ver`` 1.0, the sts.windows.net issuer, ``appid``/``appidacr`` in place of ``azp``/``azpacr``)."""
    v1 = {k: v for k, v in claims.items() if k not in ("azp", "azpacr")}
    v1.update(ver="1.0", iss=V1_ISSUER.format(tid=claims["tid"]), aud=aud, appid=claims["azp"],
              appidacr=claims["azpacr"])
    return v1


@pytest.mark.parametrize("setting", sorted(AUDIENCE_SETTINGS))
def test_entras_v2_tokens_are_accepted_however_api_audience_is_set(make_app, tokens, setting):
    client = make_app(API_AUDIENCE=AUDIENCE_SETTINGS[setting]).test_client()
    token = tokens.user()
    claims = claims_of(token)
    assert (claims["ver"], claims["aud"]) == ("2.0", API_CLIENT_ID)  # what Entra sends, whatever the scope's URI
    resp = client.get("/api/orders", headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()


@pytest.mark.parametrize("setting", sorted(AUDIENCE_SETTINGS))
def test_the_daemons_v2_token_is_accepted_however_api_audience_is_set(make_app, tokens, setting):
    client = make_app(API_AUDIENCE=AUDIENCE_SETTINGS[setting]).test_client()
    resp = client.get("/api/orders", headers=bearer(tokens.daemon()))
    assert resp.status_code == 200, resp.get_json()


@pytest.mark.parametrize("aud, setting, accepted", [
    (APP_ID_URI, "app-id-uri", True),
    (API_CLIENT_ID, "app-id-uri", True),  # a v1.0 token requested by client id
    (API_CLIENT_ID, "unset", True),  # API_CLIENT_ID is always an audience
    (CUSTOM_URI, "two-uris", True),
    (CUSTOM_URI, "app-id-uri", False),  # an App ID URI nobody configured
    (APP_ID_URI, "unset", False),
    (STRANGER, "two-uris", False),
])
def test_v1_tokens_when_enabled_name_an_app_id_uri_or_the_client_id(make_app, tokens, resign, aud, setting,
                                                                     accepted):
    client = make_app(API_AUDIENCE=AUDIENCE_SETTINGS[setting], API_ACCEPT_V1_TOKENS=True).test_client()
    token = resign(as_v1(claims_of(tokens.user()), aud))
    resp = client.get("/api/orders", headers=bearer(token))
    if accepted:
        assert resp.status_code == 200, resp.get_json()
    else:
        assert_invalid_token(resp, "wrong audience", token)


@pytest.mark.parametrize("aud", [APP_ID_URI, API_CLIENT_ID])
def test_v1_tokens_are_refused_unless_enabled(make_app, tokens, resign, aud):
    client = make_app(API_AUDIENCE=[APP_ID_URI]).test_client()
    token = resign(as_v1(claims_of(tokens.user()), aud))
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "wrong issuer", token)


@pytest.mark.parametrize("change, reason", [
    # A v2.0 token never names the App ID URI (Entra puts the GUID there), even one that is configured.
    (lambda c: {**c, "aud": APP_ID_URI}, "wrong audience"),
    (lambda c: {**c, "aud": CUSTOM_URI}, "wrong audience"),
    (lambda c: {**c, "aud": STRANGER}, "wrong audience"),
    # One audience only, even a list of ours.
    (lambda c: {**c, "aud": [API_CLIENT_ID]}, "wrong audience"),
    (lambda c: {**c, "aud": [API_CLIENT_ID, STRANGER]}, "wrong audience"),
    (lambda c: {**as_v1(c, APP_ID_URI), "aud": [APP_ID_URI, STRANGER]}, "wrong audience"),
    # Version and issuer must agree: a v2.0 token with the v1.0 issuer, and the reverse.
    (lambda c: {**c, "iss": V1_ISSUER.format(tid=c["tid"])}, "wrong issuer"),
    (lambda c: {**as_v1(c, APP_ID_URI), "iss": c["iss"]}, "wrong issuer"),
    (lambda c: {**as_v1(c, API_CLIENT_ID), "ver": "2.0"}, "wrong issuer"),
    # No version, or one Entra does not issue.
    (lambda c: {k: v for k, v in c.items() if k != "ver"}, "wrong issuer"),
    (lambda c: {**c, "ver": "3.0"}, "wrong issuer"),
    (lambda c: {**c, "ver": 2.0}, "wrong issuer"),
    # A v1.0 issuer for another tenant than the token's.
    (lambda c: {**as_v1(c, APP_ID_URI), "iss": V1_ISSUER.format(tid=STRANGER)}, "wrong issuer"),
])
def test_mismatched_versions_issuers_and_audiences_are_refused(make_app, tokens, resign, change, reason):
    client = make_app(API_AUDIENCE=[APP_ID_URI, CUSTOM_URI], API_ACCEPT_V1_TOKENS=True).test_client()
    token = resign(change(claims_of(tokens.user())))
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), reason, token)


def test_entra_check_prints_the_accepted_audiences_per_version(app):
    """Set as the README says, in the environment (strings, comma lists)."""
    from click.testing import CliRunner

    def audiences_line(**env) -> str:
        output = CliRunner().invoke(app.cli, ["entra", "check"], env={"APP_ENV": "testing", **env}, obj=None).output
        return next(line for line in output.splitlines() if "API audiences" in line)

    line = audiences_line(API_AUDIENCE=f"{APP_ID_URI},{CUSTOM_URI}", API_ACCEPT_V1_TOKENS="true")
    assert f"v2.0 tokens: aud {API_CLIENT_ID};" in line
    assert f"v1.0 tokens: aud {API_CLIENT_ID}, {APP_ID_URI}, {CUSTOM_URI}" in line
    line = audiences_line(API_AUDIENCE=APP_ID_URI)
    assert f"v2.0 tokens: aud {API_CLIENT_ID};" in line and "v1.0 tokens: refused" in line


def test_a_token_of_the_home_tenant_keeps_its_tenant_rule_in_v1(make_app, tokens, resign):
    """The tenant allow-list holds for v1.0 tokens too: the foreign tenant is refused when not allowed."""
    client = make_app(API_AUDIENCE=[APP_ID_URI], API_ACCEPT_V1_TOKENS=True,
                      ENTRA_ALLOWED_TENANTS=[HOME_TENANT_ID]).test_client()
    foreign = claims_of(tokens.user("lee@fabrikam.example"))
    token = resign(as_v1(foreign, APP_ID_URI))
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "tenant not allowed", token)
    assert client.get("/api/orders", headers=bearer(resign(as_v1(claims_of(tokens.user(MEGAN)), APP_ID_URI)))
                      ).status_code == 200


# -- the emulator's own v1.0 tokens (the API registration switched to accessTokenAcceptedVersion 1) ------
def test_real_v1_tokens_are_accepted_when_enabled_and_refused_otherwise(make_app, tokens, control):
    control.access_token_version("orders-api", 1)
    user = tokens.sign_in()["access_token"]
    daemon = tokens.client_credentials(fresh=True)
    for token in (user, daemon):
        claims = claims_of(token)
        assert claims["ver"] == "1.0" and claims["iss"] == V1_ISSUER.format(tid=HOME_TENANT_ID), claims
        assert "appid" in claims and "azp" not in claims
    assert claims_of(user)["aud"] == APP_ID_URI, "asked for with the App ID URI's scope"

    enabled = make_app(API_AUDIENCE=[APP_ID_URI], API_ACCEPT_V1_TOKENS=True).test_client()
    assert enabled.get("/api/orders", headers=bearer(user)).get_json()["view"] == "own"
    assert enabled.get("/api/orders", headers=bearer(daemon)).get_json()["view"] == "tenant"
    default = make_app(API_AUDIENCE=[APP_ID_URI]).test_client()
    for token in (user, daemon):
        assert_invalid_token(default.get("/api/orders", headers=bearer(token)), "wrong issuer", token)
    # Enabled, but the App ID URI not configured: a v1.0 token naming it is a stranger's.
    unset = make_app(API_AUDIENCE=[], API_ACCEPT_V1_TOKENS=True).test_client()
    assert_invalid_token(unset.get("/api/orders", headers=bearer(user)), "wrong audience", user)
