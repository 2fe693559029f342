"""A page's CSRF token is signed once per session secret in each worker (csrf_tokens.py), and is
checked exactly as before: a session's own token is accepted, anything else refused."""

from __future__ import annotations

import time

from .conftest import sign_in

MEGAN = "megan@contoso.example"
ADELE = "adele@contoso.example"
FORM_EXPIRED = "This form has expired"


def test_a_session_gets_the_same_token_on_every_page_and_it_is_still_checked(live, new_browser):
    megan, adele = new_browser(), new_browser()
    sign_in(megan, live, MEGAN, "/orders")
    sign_in(adele, live, ADELE, "/orders")
    first = megan.csrf_token(f"{live.url}/orders")
    time.sleep(1.1)  # a newly signed token carries the current second: it would differ by now
    assert megan.csrf_token(f"{live.url}/") == first, "signed once for this session's secret"
    adeles = adele.csrf_token(f"{live.url}/orders")
    assert adeles != first, "each session has its own"

    # Another session's remembered token is refused; the session's own is accepted.
    refused = megan.http.post(f"{live.url}/auth/logout", data={"csrf_token": adeles},
                              headers={"Referer": f"{live.url}/orders"}, allow_redirects=False)
    assert refused.status_code == 400 and FORM_EXPIRED in refused.text
    accepted = megan.http.post(f"{live.url}/auth/logout", data={"csrf_token": first},
                               headers={"Referer": f"{live.url}/orders"}, allow_redirects=False)
    assert accepted.status_code == 302 and accepted.headers["Location"].split("?")[0].endswith("/oauth2/v2.0/logout")

    # Signed in again: a new session, a new secret, a new token; the old one is refused.
    sign_in(megan, live, MEGAN, "/orders")
    again = megan.csrf_token(f"{live.url}/orders")
    assert again != first
    stale = megan.http.post(f"{live.url}/auth/logout", data={"csrf_token": first},
                            headers={"Referer": f"{live.url}/orders"}, allow_redirects=False)
    assert stale.status_code == 400 and FORM_EXPIRED in stale.text


def test_with_a_csrf_time_limit_nothing_is_reused(start_app, new_browser):
    live = start_app(WTF_CSRF_TIME_LIMIT=3600)
    megan = new_browser()
    sign_in(megan, live, MEGAN, "/orders")
    first = megan.csrf_token(f"{live.url}/orders")
    time.sleep(1.1)
    assert megan.csrf_token(f"{live.url}/orders") != first, "a token that ages is signed for each page"
