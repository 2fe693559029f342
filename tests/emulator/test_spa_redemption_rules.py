"""Who may redeem what, by redirect platform, and how long a single-page app's sign-in lasts:
a ``web`` code is refused cross-origin (AADSTS9002326), a ``spa`` code or refresh token without
``Origin`` (AADSTS9002327), and a ``spa`` refresh token expires 24 hours after the sign-in, however
often it is redeemed (AADSTS700084)."""

from __future__ import annotations

import time

from tests.conftest import (
    API_SCOPE_READ,
    Control,
    REDIRECT_URI,
    SECRETS,
    WEB_CLIENT_ID,
    authorization_response,
    confidential_app,
    pick_account,
)

from .helpers import assert_entra_error
from .spa_client import (
    SPA_CLIENT_ID,
    SPA_ORIGIN,
    authorize_url,
    redeem_code,
    redeem_refresh_token,
    sign_in,
    signed_in_tokens,
    token_request,
)

MEGAN = "megan@contoso.example"
DAY = 24 * 3600


def _age(http, emulator, seconds: float, **kwargs) -> dict:
    return Control(emulator, http).age_refresh_tokens(seconds, **kwargs)


def test_a_web_code_redeemed_cross_origin_is_refused(emulator, http, browser):
    app = confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations")
    flow = app.initiate_auth_code_flow([API_SCOPE_READ], redirect_uri=REDIRECT_URI, response_mode="form_post")
    answer = authorization_response(pick_account(browser, flow["auth_uri"], MEGAN))
    form = {"client_id": WEB_CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": API_SCOPE_READ, "code": answer["code"],
            "code_verifier": flow["code_verifier"], "grant_type": "authorization_code"}

    resp = token_request(emulator, http, form, origin=SPA_ORIGIN)

    assert resp.status_code == 400
    body = resp.json()
    assert_entra_error(body, "invalid_request", 9002326)
    assert body["error_description"].startswith(
        "AADSTS9002326: Cross-origin token redemption is permitted only for the 'Single-Page Application' "
        f"client-type. Request origin: '{SPA_ORIGIN}'.\r\nTrace ID: "
    )
    assert resp.headers["Access-Control-Allow-Origin"] == "*"  # the browser reads why
    # The same code from the web app's server (no Origin, its secret) still works: nothing was burnt.
    resp = token_request(emulator, http, {**form, "client_secret": SECRETS[WEB_CLIENT_ID]}, origin=None)
    assert resp.status_code == 200, resp.text


def test_a_spa_code_redeemed_without_origin_is_refused(emulator, http, browser):
    auth, answer = sign_in(emulator, browser, MEGAN)

    resp = redeem_code(emulator, http, auth, answer["code"], origin=None)

    assert resp.status_code == 400
    body = resp.json()
    assert_entra_error(body, "invalid_request", 9002327)
    assert body["error_description"].startswith(
        "AADSTS9002327: Tokens issued for the 'Single-Page Application' client-type may only be redeemed via "
        "cross-origin requests.\r\nTrace ID: "
    )
    assert "Access-Control-Allow-Origin" not in resp.headers
    # The browser can still redeem it.
    assert redeem_code(emulator, http, auth, answer["code"]).status_code == 200


def test_a_spa_refresh_token_redeemed_without_origin_is_refused(emulator, http, browser):
    tokens = signed_in_tokens(emulator, http, browser, MEGAN)
    resp = redeem_refresh_token(emulator, http, tokens["refresh_token"], origin=None)
    assert resp.status_code == 400
    assert_entra_error(resp.json(), "invalid_request", 9002327)
    assert redeem_refresh_token(emulator, http, tokens["refresh_token"]).status_code == 200


def test_a_spa_refresh_token_expires_24_hours_after_sign_in(emulator, http, browser):
    tokens = signed_in_tokens(emulator, http, browser, MEGAN)
    _age(http, emulator, DAY - 60, client_id=SPA_CLIENT_ID)
    assert redeem_refresh_token(emulator, http, tokens["refresh_token"]).status_code == 200  # a minute left

    _age(http, emulator, 61, client_id=SPA_CLIENT_ID)
    resp = redeem_refresh_token(emulator, http, tokens["refresh_token"])

    assert resp.status_code == 400
    body = resp.json()
    assert_entra_error(body, "invalid_grant", 700084)
    assert body["error_description"].startswith(
        "AADSTS700084: The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited "
        "lifetime of 1.00:00:00, which cannot be extended. It is now expired and a new sign in request must be sent "
        "by the SPA to the sign in page. The token was issued on "
    )
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


def test_redeeming_a_spa_refresh_token_does_not_extend_the_sign_in(emulator, http, browser):
    tokens = signed_in_tokens(emulator, http, browser, MEGAN)
    _age(http, emulator, DAY - 120, client_id=SPA_CLIENT_ID)
    renewed = redeem_refresh_token(emulator, http, tokens["refresh_token"])
    assert renewed.status_code == 200
    newer = renewed.json()["refresh_token"]
    assert newer != tokens["refresh_token"]

    _age(http, emulator, 121, client_id=SPA_CLIENT_ID)

    # The refresh token received a minute ago expires with the sign-in it came from.
    resp = redeem_refresh_token(emulator, http, newer)
    assert resp.status_code == 400
    assert_entra_error(resp.json(), "invalid_grant", 700084)


def test_a_shorter_spa_lifetime_setting_expires_by_itself(emulator, http, browser, control):
    control.settings(spa_refresh_token_lifetime=2)
    tokens = signed_in_tokens(emulator, http, browser, MEGAN)
    time.sleep(2.2)
    resp = redeem_refresh_token(emulator, http, tokens["refresh_token"])
    assert resp.status_code == 400
    body = resp.json()
    assert_entra_error(body, "invalid_grant", 700084)
    assert "fixed, limited lifetime of 0.00:00:02" in body["error_description"]


def test_a_web_apps_refresh_token_keeps_its_long_lifetime(emulator, http, browser):
    app = confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations")
    flow = app.initiate_auth_code_flow([API_SCOPE_READ], redirect_uri=REDIRECT_URI, response_mode="form_post")
    result = app.acquire_token_by_auth_code_flow(flow, authorization_response(pick_account(browser, flow["auth_uri"], MEGAN)))
    assert "refresh_token" in result, result

    _age(http, emulator, 2 * DAY)

    refreshed = app.acquire_token_by_refresh_token(result["refresh_token"], [API_SCOPE_READ])
    assert "access_token" in refreshed, refreshed


def test_the_aging_control_refuses_nonsense(emulator, http):
    for body in ({}, {"seconds": -5}, {"seconds": "a day"}, {"seconds": True}):
        assert http.post(f"{emulator.url}/_emulator/refresh-tokens/age", json=body).status_code == 400
    resp = http.post(f"{emulator.url}/_emulator/refresh-tokens/age", json={"seconds": 5, "user": "nobody@x"})
    assert resp.status_code == 404
    resp = http.post(f"{emulator.url}/_emulator/settings", json={"spa_refresh_token_lifetime": 0})
    assert resp.status_code == 400


def test_aging_can_also_end_the_users_emulator_session(emulator, http, browser):
    signed_in_tokens(emulator, http, browser, MEGAN)
    aged = _age(http, emulator, DAY, client_id=SPA_CLIENT_ID, user=MEGAN, end_sessions=True)
    assert aged["aged"] >= 1 and aged["sessions_ended"] >= 1  # earlier tests' sign-ins of Megan count too
    # No session any more: a silent (prompt=none) renewal has to ask the user.
    resp = browser.get(authorize_url(emulator, prompt="none").url, allow_redirects=False)
    assert resp.status_code == 302 and "error=login_required" in resp.headers["Location"]
