"""The single-page client's registration as Entra treats it: a public client on the ``spa``
platform, PKCE required, codes redeemed by the browser with no secret, and CORS on the endpoints
MSAL.js fetches (discovery, JWKS, token) as Entra answers them."""

from __future__ import annotations

import pytest

from tests.conftest import API_CLIENT_ID, DAEMON_CLIENT_ID, HOME_TENANT_ID, LIVE_APP_URLS, SECRETS

from .helpers import assert_entra_error, unverified
from .spa_client import (
    LOGIN_SCOPES,
    SPA_CLIENT_ID,
    SPA_ORIGIN,
    SPA_REDIRECT_URI,
    authorize_url,
    redeem_code,
    redeem_refresh_token,
    sign_in,
    token_request,
)

MEGAN = "megan@contoso.example"


def test_the_spa_registration_has_spa_redirect_uris_on_every_app_url(emulator, http):
    info = http.get(f"{emulator.url}/_emulator/info").json()
    spa = next(r for r in info["registrations"] if r["client_id"] == SPA_CLIENT_ID)
    assert spa["key"] == "orders-spa"
    assert spa["spa_redirect_uris"] == [SPA_REDIRECT_URI, *(f"{url}/spa/" for url in LIVE_APP_URLS)]
    assert spa["redirect_uris"] == [] and spa["certificates"] == {}  # no web platform, no credential
    assert emulator.emulator.manifest.registration("orders-spa").secrets() == []


def test_a_browser_signs_in_with_pkce_and_no_secret(emulator, http, browser):
    auth, answer = sign_in(emulator, browser, MEGAN)
    assert answer.get("state") == auth.state and "code" in answer, answer

    resp = redeem_code(emulator, http, auth, answer["code"])

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {"access_token", "id_token", "refresh_token", "client_info"} <= body.keys()
    claims = unverified(body["access_token"])
    assert claims["aud"] == API_CLIENT_ID and claims["scp"] == "Orders.Read"
    assert claims["azp"] == SPA_CLIENT_ID
    assert claims["azpacr"] == "0"  # a public client: no credential was presented
    assert unverified(body["id_token"])["aud"] == SPA_CLIENT_ID
    # The browser may read it: Entra answers a cross-origin token request with a CORS grant.
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers


def test_a_spa_code_issued_without_pkce_cannot_be_redeemed(emulator, http, browser):
    """Entra issues the code, then refuses to redeem it (AADSTS9002325), from a browser or a server."""
    auth, answer = sign_in(emulator, browser, MEGAN, pkce=False)
    assert "code" in answer, answer
    for origin in (SPA_ORIGIN, None):
        resp = redeem_code(emulator, http, auth, answer["code"], origin=origin)
        assert resp.status_code == 400
        body = resp.json()
        assert_entra_error(body, "invalid_request", 9002325)
        assert body["error_description"].startswith(
            "AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption."
        )


def test_a_code_redeemed_without_the_verifier_is_refused_and_the_browser_can_read_why(emulator, http, browser):
    auth, answer = sign_in(emulator, browser, MEGAN)
    auth.verifier = ""
    resp = redeem_code(emulator, http, auth, answer["code"])
    assert resp.status_code == 400
    assert_entra_error(resp.json(), "invalid_grant", 501481)
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


def test_no_client_credential_is_taken_from_a_browser(emulator, http, browser):
    """"The Microsoft identity platform also prevents the use of client credentials in all flows in the
    presence of an Origin header": a secret sent cross-origin is refused, even a right one."""
    auth, answer = sign_in(emulator, browser, MEGAN)
    form = {"client_id": SPA_CLIENT_ID, "redirect_uri": SPA_REDIRECT_URI, "scope": LOGIN_SCOPES, "code": answer["code"],
            "code_verifier": auth.verifier, "grant_type": "authorization_code", "client_secret": "guessed"}
    resp = token_request(emulator, http, form)
    assert resp.status_code == 400
    assert_entra_error(resp.json(), "invalid_request", 9002326)
    daemon = {"client_id": DAEMON_CLIENT_ID, "client_secret": SECRETS[DAEMON_CLIENT_ID],
              "scope": f"api://{API_CLIENT_ID}/.default", "grant_type": "client_credentials"}
    resp = token_request(emulator, http, daemon)
    assert resp.status_code == 400
    assert_entra_error(resp.json(), "invalid_request", 9002326)
    assert token_request(emulator, http, daemon, origin=None).status_code == 200  # from a server: fine
    # The browser's own redemption, without the secret, is untouched.
    assert redeem_code(emulator, http, auth, answer["code"]).status_code == 200


# -- CORS ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["v2.0/.well-known/openid-configuration", "discovery/v2.0/keys"])
def test_discovery_and_keys_answer_any_origin(emulator, http, path):
    url = f"{emulator.url}/{HOME_TENANT_ID}/{path}"
    for origin in (SPA_ORIGIN, "https://elsewhere.example", None):
        resp = http.get(url, headers={"Origin": origin} if origin else {})
        assert resp.status_code == 200
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert resp.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS"
    preflight = http.options(url, headers={"Origin": SPA_ORIGIN, "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"


def test_the_token_endpoint_grants_cors_to_cross_origin_posts_only(emulator, http, browser):
    # An error answer to a browser carries the grant too (its body is how MSAL.js learns what failed).
    resp = redeem_refresh_token(emulator, http, "not-a-refresh-token")
    assert resp.status_code == 400
    assert_entra_error(resp.json(), "invalid_grant", 9002313)
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    # A server's request (no Origin) gets none.
    resp = redeem_refresh_token(emulator, http, "not-a-refresh-token", origin=None)
    assert resp.status_code >= 400 and "Access-Control-Allow-Origin" not in resp.headers
    # No preflight is granted: MSAL.js sends /token as a simple request, so it never needs one.
    preflight = token_request(emulator, http, {}, method="OPTIONS")
    assert "Access-Control-Allow-Origin" not in preflight.headers
    # Interactive endpoints are never read cross-origin.
    page = browser.get(authorize_url(emulator).url, headers={"Origin": SPA_ORIGIN}, allow_redirects=False)
    assert "Access-Control-Allow-Origin" not in page.headers


def test_an_unregistered_redirect_uri_is_refused_on_a_page(emulator, http):
    """Not one of the SPA's redirect URIs: refused on Entra's page, never redirected to."""
    auth = authorize_url(emulator, redirect_uri=f"{emulator.url}/nowhere")
    resp = http.get(auth.url, allow_redirects=False)
    assert resp.status_code == 400 and "AADSTS50011" in resp.text
