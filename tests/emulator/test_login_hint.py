"""The ID token's login_hint is opaque (Microsoft: "An opaque, reliable login hint claim that's
base 64 encoded. Don't modify this value."), and still does its job: as ``login_hint`` at
/authorize it selects the account, as ``logout_hint`` it names the account to sign out.
Access tokens carry no ``sid`` (the access token reference lists none; the ID token keeps it)."""

from __future__ import annotations

import base64
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from entra_auth.http import build_http_session
from tests.conftest import API_SCOPE_READ, APP_BASE_URL, HOME_TENANT_ID, REDIRECT_URI, WEB_CLIENT_ID, \
    confidential_app, sign_in_with_msal

from .helpers import unverified

MEGAN = "megan@contoso.example"
ADELE = "adele@contoso.example"
OIDS = {MEGAN: "a0000001-0000-4000-8000-000000000001", ADELE: "a0000001-0000-4000-8000-000000000002"}


def _hint(emulator, http, username: str) -> tuple[str, dict]:
    browser = build_http_session(str(emulator.ca_path))
    _, _, result = sign_in_with_msal(emulator, http, browser, username, [API_SCOPE_READ])
    return unverified(result["id_token"])["login_hint"], result


def _authorize(emulator, http, browser, **params):
    app = confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations")
    with pytest.warns(UserWarning, match="form_post"):
        flow = app.initiate_auth_code_flow([API_SCOPE_READ], redirect_uri=REDIRECT_URI, response_mode="query",
                                           **params)
    return browser.get(flow["auth_uri"], allow_redirects=False)


def test_login_hint_is_opaque_and_stable_per_user(emulator, http):
    megan, _ = _hint(emulator, http, MEGAN)
    megan_again, _ = _hint(emulator, http, MEGAN)
    adele, _ = _hint(emulator, http, ADELE)
    assert megan == megan_again and megan != adele
    for username, hint in ((MEGAN, megan), (ADELE, adele)):
        body = hint.removeprefix("O.")
        decoded = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))  # base64, as documented
        for secret in (OIDS[username], HOME_TENANT_ID, username):
            assert secret not in hint and secret.encode() not in decoded
            assert uuid.UUID(OIDS[username]).bytes not in decoded and uuid.UUID(HOME_TENANT_ID).bytes not in decoded


def test_the_login_hint_claim_selects_the_account_at_authorize(emulator, http, browser):
    megan, _ = _hint(emulator, http, MEGAN)
    adele, _ = _hint(emulator, http, ADELE)
    # No session: the picker marks the hinted account.
    page = _authorize(emulator, http, browser, login_hint=adele)
    assert re.findall(r'value="([^"]+)" class="account hinted"', page.text) == [ADELE]
    # Megan signed in: her hint signs in silently, Adele's does not.
    sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    silent = _authorize(emulator, http, browser, login_hint=megan, prompt="none")
    assert "code" in parse_qs(urlsplit(silent.headers["Location"]).query)
    other = _authorize(emulator, http, browser, login_hint=adele, prompt="none")
    assert parse_qs(urlsplit(other.headers["Location"]).query)["error"] == ["login_required"]


def test_the_logout_hint_names_the_account(emulator, http, browser, control):
    hint, _ = _hint(emulator, http, ADELE)
    seq = control.last_seq()
    resp = browser.get(f"{emulator.url}/organizations/oauth2/v2.0/logout",
                       params={"post_logout_redirect_uri": f"{APP_BASE_URL}/", "logout_hint": hint})
    assert resp.status_code == 200
    (entry,) = [e for e in control.requests(seq) if e["endpoint"] == "logout"]
    assert entry["logout_hint_user"] == OIDS[ADELE]


def test_access_tokens_carry_no_sid_the_id_token_does(emulator, http, control):
    _, result = _hint(emulator, http, MEGAN)
    assert unverified(result["id_token"])["sid"]
    assert "sid" not in unverified(result["access_token"])
    control.access_token_version("orders-api", 1)
    _, v1 = _hint(emulator, http, MEGAN)
    assert unverified(v1["access_token"])["ver"] == "1.0" and "sid" not in unverified(v1["access_token"])
