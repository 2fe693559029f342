"""A refresh refused with AADSTS50173 (the user's sessions were revoked) sends the user through
sign-in again, whatever extra fields Entra's error body carries or lacks."""

from __future__ import annotations

from urllib.parse import urlsplit

from .conftest import sign_in

MEGAN = "megan@contoso.example"
SHORT_LIFETIME = 60  # MSAL refreshes a token expiring within 5 minutes: every page refreshes


def test_a_refresh_refused_as_revoked_leads_to_a_fresh_sign_in(live, new_browser, control):
    control.settings(access_token_lifetime=SHORT_LIFETIME)
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/orders")
    control.revoke(MEGAN)
    mark = control.last_seq()
    page = browser.http.get(f"{live.url}/orders", allow_redirects=False)
    refused = [e for e in control.requests(mark) if e.get("grant_type") == "refresh_token"]
    assert [(e["status"], e.get("error", {}).get("code")) for e in refused] == [(400, 50173)]
    assert page.status_code in (302, 303), (page.status_code, page.text[:300])
    assert urlsplit(page.headers["Location"]).path.endswith(("/auth/login", "/oauth2/v2.0/authorize")), page.headers
    # Following it as the user signs in again and comes back to the page.
    again = browser.get(f"{live.url}/orders", as_user=MEGAN)
    assert again.status_code == 200 and urlsplit(again.url).path == "/orders"
