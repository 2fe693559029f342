"""Authorization code + PKCE with unmodified MSAL, and the authorize endpoint's refusals."""

from __future__ import annotations

import contextlib
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import (
    API_SCOPE_READ,
    REDIRECT_URI,
    WEB_CLIENT_ID,
    authorization_response,
    confidential_app,
    pick_account,
    sign_in_with_msal,
)

from .helpers import assert_entra_error, sent_nonce, unverified

MEGAN = "megan@contoso.example"
ADELE = "adele@contoso.example"


def _start(emulator, http, *, redirect_uri: str = REDIRECT_URI, response_mode: str = "form_post", **flow_kwargs):
    app = confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations")
    # MSAL warns for every mode but form_post (query is documented as going away).
    expect = pytest.warns(UserWarning, match="form_post") if response_mode != "form_post" else contextlib.nullcontext()
    with expect:
        flow = app.initiate_auth_code_flow(
            [API_SCOPE_READ], redirect_uri=redirect_uri, response_mode=response_mode, **flow_kwargs
        )
    return app, flow


def _is_picker(resp) -> bool:
    return resp.status_code == 200 and 'name="request_id"' in resp.text


def _redirect_params(resp) -> dict[str, str]:
    assert resp.status_code == 302, resp.text
    parts = urlsplit(resp.headers["Location"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT_URI
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_sign_in_returns_tokens_state_and_nonce(emulator, http, browser):
    app, flow = _start(emulator, http)
    auth_response = authorization_response(pick_account(browser, flow["auth_uri"], MEGAN))
    assert auth_response["state"] == flow["state"]
    assert auth_response["code"]
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert {"access_token", "id_token", "refresh_token", "client_info"} <= result.keys(), result
    assert result["token_type"] == "Bearer"
    id_claims = unverified(result["id_token"])
    assert id_claims["nonce"] == sent_nonce(flow)
    assert id_claims["preferred_username"] == MEGAN
    assert auth_response["session_state"] == id_claims["sid"]
    assert set(result["scope"].split()) >= {API_SCOPE_READ, "openid", "profile", "offline_access"}


@pytest.mark.parametrize("response_mode", ["form_post", "query"])
def test_response_modes(emulator, http, browser, response_mode):
    app, flow = _start(emulator, http, response_mode=response_mode)
    resp = pick_account(browser, flow["auth_uri"], MEGAN)
    if response_mode == "query":
        fields = _redirect_params(resp)
    else:
        assert resp.status_code == 200 and "Location" not in resp.headers
        action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', resp.text).group(1))
        assert action == REDIRECT_URI
        fields = authorization_response(resp)
    assert fields["state"] == flow["state"] and fields["code"].startswith("1.")
    result = app.acquire_token_by_auth_code_flow(flow, fields)
    assert "access_token" in result, result


def test_wrong_code_verifier_is_refused(emulator, http, browser):
    app, flow = _start(emulator, http)
    auth_response = authorization_response(pick_account(browser, flow["auth_uri"], MEGAN))
    tampered = {**flow, "code_verifier": flow["code_verifier"][::-1]}
    result = app.acquire_token_by_auth_code_flow(tampered, auth_response)
    assert_entra_error(result, "invalid_grant", 501481)
    # The code is spent even though the redemption failed (single use, whatever happens).
    assert_entra_error(app.acquire_token_by_auth_code_flow(flow, auth_response), "invalid_grant", 54005)


def test_replayed_code_is_refused(emulator, http, browser):
    app, flow = _start(emulator, http)
    auth_response = authorization_response(pick_account(browser, flow["auth_uri"], MEGAN))
    assert "access_token" in app.acquire_token_by_auth_code_flow(flow, auth_response)
    replay = app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert_entra_error(replay, "invalid_grant", 54005)
    assert "access_token" not in replay


def test_wrong_redirect_uri_at_token_endpoint_is_refused(emulator, http, browser):
    app, flow = _start(emulator, http)
    auth_response = authorization_response(pick_account(browser, flow["auth_uri"], MEGAN))
    tampered = {**flow, "redirect_uri": "http://localhost:5000/elsewhere"}
    assert_entra_error(app.acquire_token_by_auth_code_flow(tampered, auth_response), "invalid_grant", 50011)


def test_code_of_another_client_is_refused(emulator, http, browser, api_app):
    _, flow = _start(emulator, http)
    auth_response = authorization_response(pick_account(browser, flow["auth_uri"], MEGAN))
    result = api_app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert_entra_error(result, "invalid_grant", 70000)


def test_pkce_is_required_for_the_web_client(emulator, http, browser):
    _, flow = _start(emulator, http, response_mode="query")
    query = {k: v[0] for k, v in parse_qs(urlsplit(flow["auth_uri"]).query).items()
             if k not in ("code_challenge", "code_challenge_method")}
    resp = browser.get(flow["auth_uri"].split("?")[0], params=query, allow_redirects=False)
    fields = _redirect_params(resp)
    assert fields["error"] == "invalid_request"
    assert fields["error_description"].startswith("AADSTS9002325:")
    assert fields["state"] == flow["state"]
    assert "code" not in fields


def test_redirect_uri_mismatch_at_authorize_shows_an_error_page(emulator, http, browser):
    _, flow = _start(emulator, http, redirect_uri="https://evil.example/callback")
    resp = browser.get(flow["auth_uri"], allow_redirects=False)
    assert resp.status_code == 400
    assert "Location" not in resp.headers  # never redirect to an unregistered URI
    assert "AADSTS50011" in resp.text
    assert "evil.example/callback" not in resp.headers.get("Refresh", "")


def test_prompt_none_without_a_session_is_login_required(emulator, http, browser):
    _, flow = _start(emulator, http, response_mode="query", prompt="none")
    fields = _redirect_params(browser.get(flow["auth_uri"], allow_redirects=False))
    assert fields["error"] == "login_required"
    assert fields["error_description"].startswith("AADSTS50058:")
    assert fields["state"] == flow["state"]


def test_prompt_none_with_a_session_signs_in_silently(emulator, http, browser):
    _, _, first = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    app, flow = _start(emulator, http, response_mode="query", prompt="none")
    fields = _redirect_params(browser.get(flow["auth_uri"], allow_redirects=False))
    assert "error" not in fields, fields
    result = app.acquire_token_by_auth_code_flow(flow, fields)
    assert unverified(result["id_token"])["sid"] == unverified(first["id_token"])["sid"]
    assert unverified(result["id_token"])["preferred_username"] == MEGAN


def test_session_without_prompt_skips_the_picker(emulator, http, browser):
    sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    _, flow = _start(emulator, http)
    resp = browser.get(flow["auth_uri"], allow_redirects=False)
    assert not _is_picker(resp)
    assert authorization_response(resp)["code"]


def test_prompt_login_shows_the_picker_even_with_a_session(emulator, http, browser):
    _, _, first = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    app, flow = _start(emulator, http, prompt="login")
    page = browser.get(flow["auth_uri"], allow_redirects=False)
    assert _is_picker(page)
    result = app.acquire_token_by_auth_code_flow(flow, authorization_response(pick_account(browser, flow["auth_uri"], MEGAN)))
    # A fresh authentication: a new emulator session.
    assert unverified(result["id_token"])["sid"] != unverified(first["id_token"])["sid"]


def test_login_hint_marks_the_account_on_the_picker(emulator, http, browser):
    _, flow = _start(emulator, http, login_hint=ADELE)
    page = browser.get(flow["auth_uri"], allow_redirects=False)
    assert _is_picker(page)
    hinted = re.findall(r'value="([^"]+)" class="account hinted"', page.text)
    assert hinted == [ADELE]


def test_login_hint_for_another_user_than_the_session_shows_the_picker(emulator, http, browser):
    sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    _, other = _start(emulator, http, login_hint=ADELE)
    assert _is_picker(browser.get(other["auth_uri"], allow_redirects=False))
    _, same = _start(emulator, http, login_hint=MEGAN)
    assert authorization_response(browser.get(same["auth_uri"], allow_redirects=False))["code"]
    _, silent_other = _start(emulator, http, login_hint=ADELE, prompt="none", response_mode="query")
    fields = _redirect_params(browser.get(silent_other["auth_uri"], allow_redirects=False))
    assert fields["error"] == "login_required"


def test_token_endpoint_errors_carry_entra_fields(emulator, http):
    correlation = "0f0f0f0f-1111-4222-8333-444444444444"
    resp = http.post(
        f"{emulator.url}/organizations/oauth2/v2.0/token",
        data={"grant_type": "authorization_code", "client_id": WEB_CLIENT_ID,
              "client_secret": "dev-only-orders-web-secret", "code": "1.bogus", "redirect_uri": REDIRECT_URI},
        headers={"client-request-id": correlation},
    )
    assert resp.status_code == 400
    body = resp.json()
    assert_entra_error(body, "invalid_grant", 70000)
    assert body["correlation_id"] == correlation
    assert f"Correlation ID: {correlation}" in body["error_description"]
    assert body["trace_id"] in body["error_description"]


@pytest.mark.parametrize(
    ("params", "error", "code"),
    [
        ({"response_type": "token"}, "unsupported_response_type", 700054),
        ({"response_mode": "web_message"}, "invalid_request", 900144),
        ({"prompt": "sometimes"}, "invalid_request", 90023),
        ({"code_challenge_method": "plain"}, "invalid_request", 501491),
        ({"scope": "openid api://nobody/Orders.Read"}, "invalid_resource", 500011),
    ],
)
def test_authorize_errors_are_redirected_with_state(emulator, http, browser, params, error, code):
    app, flow = _start(emulator, http, response_mode="query")
    query = {k: v[0] for k, v in parse_qs(urlsplit(flow["auth_uri"]).query).items()}
    query.update(params)
    base = flow["auth_uri"].split("?")[0]
    fields = _redirect_params(browser.get(base, params=query, allow_redirects=False))
    assert fields["error"] == error
    assert fields["error_description"].startswith(f"AADSTS{code}:")
    assert fields["state"] == flow["state"]


def test_cancel_on_the_picker_is_access_denied(emulator, http, browser):
    _, flow = _start(emulator, http, response_mode="query")
    page = browser.get(flow["auth_uri"], allow_redirects=False)
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
    resp = browser.post(f"{emulator.url}/organizations/login", data={"request_id": request_id, "action": "cancel"},
                        allow_redirects=False)
    fields = _redirect_params(resp)
    assert fields["error"] == "access_denied" and fields["state"] == flow["state"]
    # Entra marks a user's cancel so: MSAL.NET reads error_subcode=cancel as "user cancelled".
    assert fields["error_subcode"] == "cancel" and fields["error_description"].startswith("AADSTS65004:")
    # The picker request is single use.
    again = browser.post(f"{emulator.url}/organizations/login", data={"request_id": request_id, "username": MEGAN},
                         allow_redirects=False)
    assert again.status_code == 400 and "AADSTS50058" in again.text
