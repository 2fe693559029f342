"""Silent renewal for the single-page client as Entra answers it: ``prompt=none`` in a hidden
frame gets a code, or ``login_required`` / ``interaction_required`` sent back to the SPA's redirect
URI (never a page the frame would have to show); the interactive pages refuse to be framed; a
refresh for a scope not consented to is ``invalid_grant`` the browser can read; sign-out returns
to the SPA."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.conftest import API_CLIENT_ID, pick_account

from .helpers import assert_entra_error, unverified
from .spa_client import (
    SPA_REDIRECT_URI,
    WRITE_SCOPES,
    authorize_url,
    redeem_code,
    redeem_refresh_token,
    signed_in_tokens,
)

MEGAN = "megan@contoso.example"


def _silent(emulator, browser, **kwargs):
    """A hidden frame's prompt=none request; (response, fields sent back in the fragment)."""
    auth = authorize_url(emulator, prompt="none", **kwargs)
    resp = browser.get(auth.url, allow_redirects=False)
    assert resp.status_code == 302, resp.text  # an answer for the app, not a page to show
    location = resp.headers["Location"]
    assert location.startswith(SPA_REDIRECT_URI + "#")
    fields = {k: v[0] for k, v in parse_qs(urlsplit(location).fragment).items()}
    assert fields["state"] == auth.state
    return auth, fields


def test_without_an_entra_session_silent_renewal_is_login_required(emulator, browser):
    _, fields = _silent(emulator, browser)
    assert fields["error"] == "login_required"
    assert fields["error_description"].startswith("AADSTS50058: A silent sign-in request was sent but no user is signed in.")


def test_with_a_session_silent_renewal_gets_a_code_the_browser_redeems(emulator, http, browser):
    signed_in_tokens(emulator, http, browser, MEGAN)

    auth, fields = _silent(emulator, browser)

    assert "code" in fields and "error" not in fields
    resp = redeem_code(emulator, http, auth, fields["code"])
    assert resp.status_code == 200, resp.text
    assert unverified(resp.json()["access_token"])["scp"] == "Orders.Read"


def test_a_scope_not_consented_needs_interaction_then_renews_silently(emulator, http, browser):
    tokens = signed_in_tokens(emulator, http, browser, MEGAN)
    # Orders.Write is not admin-consented: the refresh token cannot get it...
    resp = redeem_refresh_token(emulator, http, tokens["refresh_token"], scope=WRITE_SCOPES)
    assert resp.status_code == 400
    body = resp.json()
    assert_entra_error(body, "invalid_grant", 65001)
    assert body["suberror"] == "consent_required"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"  # MSAL.js reads it and goes interactive
    # ...nor can a hidden frame.
    _, fields = _silent(emulator, browser, scope=WRITE_SCOPES)
    assert fields["error"] == "interaction_required"
    assert fields["error_description"].startswith("AADSTS65001:")

    # Interactive: the page asks for Orders.Write; picking the account consents (incremental consent).
    auth = authorize_url(emulator, scope=WRITE_SCOPES)
    page = browser.get(auth.url)
    assert "Create your orders" in page.text
    fields = {k: v[0] for k, v in parse_qs(urlsplit(pick_account(browser, auth.url, MEGAN).headers["Location"]).fragment).items()}
    written = redeem_code(emulator, http, auth, fields["code"], scope=WRITE_SCOPES)
    assert written.status_code == 200, written.text
    assert unverified(written.json()["access_token"])["scp"] == "Orders.Write"

    # From now on silent renewal of Orders.Write works, in a frame and by refresh token.
    _, fields = _silent(emulator, browser, scope=WRITE_SCOPES)
    assert "code" in fields
    assert redeem_refresh_token(emulator, http, tokens["refresh_token"], scope=WRITE_SCOPES).status_code == 200


def test_the_interactive_pages_refuse_to_be_framed(emulator, http, browser):
    picker = browser.get(authorize_url(emulator).url)
    assert 'name="request_id"' in picker.text
    assert picker.headers["X-Frame-Options"] == "DENY"
    assert picker.headers["Content-Security-Policy"] == "frame-ancestors 'none'"

    error_page = browser.get(authorize_url(emulator, redirect_uri="https://evil.example/spa/").url)
    assert error_page.status_code == 400 and "AADSTS50011" in error_page.text
    assert error_page.headers["X-Frame-Options"] == "DENY"

    # What a hidden frame receives is no page: a redirect, or a form_post answer that is frameable.
    signed_in_tokens(emulator, http, browser, MEGAN)
    answer = browser.get(authorize_url(emulator, prompt="none", response_mode="form_post").url)
    assert answer.status_code == 200 and 'name="code"' in answer.text
    assert "X-Frame-Options" not in answer.headers


def test_sign_out_returns_to_the_spa_and_ends_silent_renewal(emulator, http, browser):
    tokens = signed_in_tokens(emulator, http, browser, MEGAN)
    hint = unverified(tokens["id_token"]).get("login_hint", "")
    resp = browser.get(
        f"{emulator.url}/{unverified(tokens['id_token'])['tid']}/oauth2/v2.0/logout",
        params={"post_logout_redirect_uri": SPA_REDIRECT_URI, "logout_hint": hint},
    )
    assert resp.status_code == 200
    assert f'url={SPA_REDIRECT_URI}"' in resp.text  # back to the SPA afterwards
    _, fields = _silent(emulator, browser)
    assert fields["error"] == "login_required"
    # An address that is no redirect URI of any registration is refused.
    bad = browser.get(f"{emulator.url}/organizations/oauth2/v2.0/logout",
                      params={"post_logout_redirect_uri": f"https://evil.example/{API_CLIENT_ID}/spa/"})
    assert bad.status_code == 400
