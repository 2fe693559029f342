"""Sign-out: post_logout_redirect_uri checked, the emulator session ended,
front-channel logout iframes for the apps of the session."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import (
    API_SCOPE_READ,
    APP_BASE_URL,
    REDIRECT_URI,
    WEB_CLIENT_ID,
    confidential_app,
    sign_in_with_msal,
)

from .helpers import unverified

MEGAN = "megan@contoso.example"
FRONT_CHANNEL = f"{APP_BASE_URL}/auth/logout/frontchannel"


def _logout(emulator, browser, target: str | None = None, segment: str = "organizations"):
    params = {"post_logout_redirect_uri": target} if target else {}
    return browser.get(f"{emulator.url}/{segment}/oauth2/v2.0/logout", params=params, allow_redirects=False)


def _silent(emulator, http, browser) -> dict[str, str]:
    """prompt=none with MSAL's authorize URL; the fields the emulator redirected back with."""
    app = confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations")
    with pytest.warns(UserWarning, match="form_post"):
        flow = app.initiate_auth_code_flow([API_SCOPE_READ], redirect_uri=REDIRECT_URI, prompt="none",
                                           response_mode="query")
    resp = browser.get(flow["auth_uri"], allow_redirects=False)
    assert resp.status_code == 302, resp.text
    return {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["Location"]).query).items()}


def _frames(page: str) -> list[str]:
    return [html.unescape(src) for src in re.findall(r'<iframe class="frontchannel" src="([^"]+)"', page)]


def test_logout_ends_the_session_and_renders_front_channel_iframes(emulator, http, browser, control):
    _, _, result = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    sid = unverified(result["id_token"])["sid"]
    assert "code" in _silent(emulator, http, browser)  # signed in: silent SSO works
    cookie = browser.cookies.get("emu_session")
    assert cookie

    resp = _logout(emulator, browser, f"{APP_BASE_URL}/")
    assert resp.status_code == 200
    frames = _frames(resp.text)
    assert len(frames) == 1
    parts = urlsplit(frames[0])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == FRONT_CHANNEL
    query = parse_qs(parts.query)
    assert query["sid"] == [sid]
    assert "iss" not in query  # Entra sends sid alone (docs/emulator-fidelity.md)
    assert f'url={APP_BASE_URL}/"' in resp.text  # sent back to the app afterwards
    assert "emu_session" not in browser.cookies  # the cookie is dropped...

    fields = _silent(emulator, http, browser)
    assert fields["error"] == "login_required"
    assert fields["error_description"].startswith("AADSTS50058:")
    # ...and the session is over on the emulator's side too, whoever replays the old cookie.
    browser.cookies.set("emu_session", cookie, domain=urlsplit(emulator.url).hostname, path="/")
    assert _silent(emulator, http, browser)["error"] == "login_required"

    (entry,) = [e for e in control.requests() if e["endpoint"] == "logout"]
    assert entry["user"] == unverified(result["id_token"])["oid"] and entry["front_channel"] == frames


def test_unregistered_post_logout_redirect_uri_is_refused(emulator, http, browser):
    sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    resp = _logout(emulator, browser, "https://evil.example/")
    assert resp.status_code == 400
    assert "AADSTS50011" in resp.text
    assert "evil.example" not in resp.headers.get("Location", "")
    assert "iframe" not in resp.text
    # Nothing was signed out.
    assert "code" in _silent(emulator, http, browser)


@pytest.mark.parametrize("target", [None, f"{APP_BASE_URL}/", f"{APP_BASE_URL}/auth/callback"])
def test_logout_without_a_session_is_a_plain_signed_out_page(emulator, browser, target):
    resp = _logout(emulator, browser, target)
    assert resp.status_code == 200
    assert "You signed out" in resp.text
    assert _frames(resp.text) == []
    assert ("url=" in resp.text) == (target is not None)


def test_logout_by_post(emulator, http, browser):
    sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    resp = browser.post(f"{emulator.url}/organizations/oauth2/v2.0/logout",
                        data={"post_logout_redirect_uri": f"{APP_BASE_URL}/"}, allow_redirects=False)
    assert resp.status_code == 200 and len(_frames(resp.text)) == 1
    assert _silent(emulator, http, browser)["error"] == "login_required"


def test_front_channel_frames_carry_the_sid_alone_as_entra_sends_them(emulator, http, browser):
    """Entra calls the front-channel logout URL with ``sid`` only, no ``iss`` (docs/emulator-fidelity.md)."""
    _, _, result = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    [frame] = _frames(_logout(emulator, browser, f"{APP_BASE_URL}/").text)
    assert parse_qs(urlsplit(frame).query) == {"sid": [unverified(result["id_token"])["sid"]]}
