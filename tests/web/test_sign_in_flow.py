"""A whole sign-in → profile → sign-out, over HTTPS, with the emulator and a real Redis."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.conftest import HOME_TENANT_ID

from .conftest import sign_in

MEGAN = "megan@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"


def test_sign_in_profile_sign_out(live, user_browser, redis_client, emulator):
    page = sign_in(user_browser, live, MEGAN, "/profile")
    assert "Megan Bowen" in page.text
    assert MEGAN_OID in page.text and HOME_TENANT_ID in page.text
    # The directory panel: fetched by the API tier on Megan's behalf from the Graph-like downstream.
    assert "Marketing Manager" in page.text, "the downstream profile (job title) is on the page"
    session_keys = redis_client.keys("session:*")
    cache_keys = redis_client.keys("tokencache:user:*")
    assert len(session_keys) == 1 and len(cache_keys) == 1

    token = user_browser.csrf_token(f"{live.url}/profile")
    response = user_browser.http.post(f"{live.url}/auth/logout", data={"csrf_token": token}, allow_redirects=False,
                                      headers={"Referer": f"{live.url}/profile"})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == emulator.url
    assert location.path.endswith("/oauth2/v2.0/logout")
    assert parse_qs(location.query)["post_logout_redirect_uri"] == [f"{live.url}/"]
    assert not redis_client.keys("session:*") and not redis_client.keys("tokencache:user:*")
    # The browser is signed out: a protected page sends it to sign in again.
    again = user_browser.http.get(f"{live.url}/profile", allow_redirects=False)
    assert again.status_code == 302 and urlsplit(again.headers["Location"]).netloc == urlsplit(emulator.url).netloc
