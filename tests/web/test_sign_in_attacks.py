"""Attacks on sign-in and sign-out, at the HTTP level: replayed and cross-delivered
callbacks (login CSRF), Entra's ``error=`` answers, open redirects through ``next``,
and cross-site sign-out (CSRF)."""

from __future__ import annotations

from urllib.parse import urlsplit

from .conftest import Browser, sign_in

MEGAN = "megan@contoso.example"
LEE = "lee@fabrikam.example"
SESSION_COOKIE = "__Host-session"
SIGNIN_COOKIE = "__Host-signin"


def authorize_without_finishing(browser: Browser, live, username: str, next_path: str = "/") -> tuple[str, dict]:
    """Start a sign-in on ``live`` and pick ``username`` at the emulator, but do not deliver the
    callback: returns the form_post page's target and fields (the code and state)."""
    start = browser.http.get(f"{live.url}/auth/login", params={"next": next_path}, allow_redirects=False)
    assert start.status_code == 302
    picker = browser.http.get(start.headers["Location"], allow_redirects=False)
    action, fields = Browser.form(picker.text, base=picker.url)
    answer = browser.http.post(action, data={**fields, "username": username}, allow_redirects=False)
    assert 'id="response-form"' in answer.text, answer.text[:300]
    action, fields = Browser.form(answer.text)
    assert urlsplit(action).path == "/auth/callback" and "code" in fields and "state" in fields
    return action, fields


def assert_sign_in_refused(response) -> None:
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert "Sign-in could not be completed" in response.text
    assert "Reference:" in response.text  # a correlation id to quote
    assert "Traceback" not in response.text


def code_redemptions(control) -> list[dict]:
    return [e for e in control.requests() if e.get("grant_type") == "authorization_code"]


# -- callbacks ------------------------------------------------------------------------------------

def test_a_callback_delivered_to_another_browser_is_refused(live, new_browser, redis_client, control):
    victim, other = new_browser(), new_browser()
    action, fields = authorize_without_finishing(victim, live, MEGAN, "/profile")
    # The code and state reach a browser that never started this sign-in (no sign-in cookie).
    assert other.cookie(SIGNIN_COOKIE) is None
    response = other.follow(other.http.post(action, data=fields, allow_redirects=False))
    assert_sign_in_refused(response)
    assert not redis_client.keys("session:*") and not redis_client.keys("tokencache:*")
    assert other.cookie(SESSION_COOKIE) is None
    assert code_redemptions(control) == [], "the code was never redeemed for the wrong browser"
    # The browser that started it still finishes its own sign-in.
    page = victim.follow(victim.http.post(action, data=fields, allow_redirects=False))
    assert page.status_code == 200 and "Megan Bowen" in page.text


def test_an_attackers_code_posted_into_a_victims_sign_in_is_refused(live, new_browser, redis_client):
    """Login CSRF: the attacker's own code and state, delivered into a victim who is signing in."""
    attacker, victim = new_browser(), new_browser()
    action, attackers = authorize_without_finishing(attacker, live, LEE)
    victim.http.get(f"{live.url}/auth/login", allow_redirects=False)  # the victim's own sign-in is in flight
    assert victim.cookie(SIGNIN_COOKIE)
    response = victim.follow(victim.http.post(action, data=attackers, allow_redirects=False))
    assert_sign_in_refused(response)
    assert not redis_client.keys("session:*")
    assert "Lee Gu" not in victim.get(f"{live.url}/").text


def test_a_replayed_callback_in_the_same_browser_is_refused(live, new_browser, redis_client, control):
    browser = new_browser()
    action, fields = authorize_without_finishing(browser, live, MEGAN)
    signin_cookie = browser.cookie(SIGNIN_COOKIE)
    page = browser.follow(browser.http.post(action, data=fields, allow_redirects=False))
    assert "Welcome back, Megan Bowen" in page.text
    session_id = browser.cookie(SESSION_COOKIE)
    assert browser.cookie(SIGNIN_COOKIE) is None, "the sign-in cookie is cleared once used"

    # The same callback again, as a browser's back button or an attacker holding the request would send it.
    assert_sign_in_refused(browser.follow(browser.http.post(action, data=fields, allow_redirects=False)))
    # Even with the spent sign-in cookie put back: a flow is taken once.
    browser.http.cookies.set(SIGNIN_COOKIE, signin_cookie, domain="localhost.local", path="/", secure=True)
    assert_sign_in_refused(browser.follow(browser.http.post(action, data=fields, allow_redirects=False)))
    # And inside a new sign-in of this browser: its state does not match the old one.
    browser.http.get(f"{live.url}/auth/login", allow_redirects=False)
    assert_sign_in_refused(browser.follow(browser.http.post(action, data=fields, allow_redirects=False)))

    assert len(code_redemptions(control)) == 1, "the code went to the token endpoint once"
    assert len(redis_client.keys("session:*")) == 1
    # The refused replays cost the user nothing: still the same session, still signed in.
    assert browser.cookie(SESSION_COOKIE) == session_id
    assert "Welcome back, Megan Bowen" in browser.get(f"{live.url}/").text


def test_a_cancel_at_the_account_picker_ends_on_the_cancelled_page(live, new_browser, redis_client):
    """The account picker's Cancel: Entra answers the callback with error=access_denied (error_subcode=cancel)."""
    browser = new_browser()
    start = browser.http.get(f"{live.url}/auth/login?next=/profile", allow_redirects=False)
    picker = browser.http.get(start.headers["Location"], allow_redirects=False)
    action, fields = Browser.form(picker.text, base=picker.url)
    answer = browser.http.post(action, data={**fields, "action": "cancel"}, allow_redirects=False)
    assert "access_denied" in answer.text  # the emulator's form_post page carries the error
    response = browser.follow(answer)
    assert urlsplit(response.url).path == "/auth/signin-ended", "not left on /auth/callback"
    assert response.status_code == 200 and "Sign-in was cancelled" in response.text
    assert "AADSTS" not in response.text and "Reference:" in response.text
    assert browser.cookie(SIGNIN_COOKIE) is None
    assert not redis_client.keys("session:*")
    assert browser.http.get(f"{live.url}/profile", allow_redirects=False).status_code == 302


# -- next ---------------------------------------------------------------------------------------------

OFF_SITE_NEXT = {
    "scheme-relative": "next=//evil.example",
    "backslash": "next=/%5Cevil.example",
    "absolute": "next=https://evil.example",
    "javascript": "next=javascript:alert(1)",
    "encoded-slashes": "next=%2F%2Fevil.example",
    "double-encoded-slashes": "next=%252F%252Fevil.example",
    "tab": "next=/%09/evil.example",
    "four-slashes": "next=////evil.example",
    "header-injection": "next=/%0D%0ALocation:%20https://evil.example",
    "leading-space": "next=%20//evil.example",
    "3000-char-path": "next=/" + "a" * 2999,
}


def _landing(browser: Browser, live, query: str):
    final = browser.get(f"{live.url}/auth/login?{query}", as_user=MEGAN)
    callbacks = [r for r in browser.history if urlsplit(r.url).path == "/auth/callback"]
    assert len(callbacks) == 1 and callbacks[0].status_code == 302
    return final, callbacks[0].headers["Location"]


def test_off_site_next_values_land_on_the_home_page(live, new_browser):
    # One app for the whole table (a parametrised test would pay an app start and stop per row).
    for name, query in OFF_SITE_NEXT.items():
        final, location = _landing(new_browser(), live, query)
        assert location == "/", (name, location)
        assert final.status_code == 200 and final.url == f"{live.url}/", name
        assert "Welcome back, Megan Bowen" in final.text, name


def test_a_local_next_with_a_query_is_kept(live, new_browser):
    final, location = _landing(new_browser(), live, "next=%2Forders%3Fx%3D1")
    assert location == "/orders?x=1"
    assert final.status_code == 200 and final.url == f"{live.url}/orders?x=1"


# -- sign-out ------------------------------------------------------------------------------------

def _logout(browser: Browser, live, data: dict, **headers):
    return browser.http.post(f"{live.url}/auth/logout", data=data, allow_redirects=False,
                             headers={"Referer": f"{live.url}/", **headers})


def test_a_sign_out_without_the_right_csrf_token_is_refused(live, new_browser, redis_client):
    user, attacker = new_browser(), new_browser()
    sign_in(user, live, MEGAN)
    sign_in(attacker, live, LEE)
    attempts = {
        "no token": ({}, {}),
        "garbage token": ({"csrf_token": "IjAxMjM0NTY3ODlhYmNkZWYi.Zx.garbage"}, {}),
        "another session's token": ({"csrf_token": attacker.csrf_token(f"{live.url}/")}, {}),
        "cross-site referer": ({"csrf_token": user.csrf_token(f"{live.url}/")}, {"Referer": "https://evil.example/"}),
        "no referer": ({"csrf_token": user.csrf_token(f"{live.url}/")}, {"Referer": ""}),
    }
    for how, (data, headers) in attempts.items():
        response = _logout(user, live, data, **headers)
        assert response.status_code == 400, how
        assert "This form has expired" in response.text and "Traceback" not in response.text, how
        assert len(redis_client.keys("session:*")) == 2 and len(redis_client.keys("tokencache:user:*")) == 2, how
        assert "Welcome back, Megan Bowen" in user.get(f"{live.url}/").text, how
    assert user.http.get(f"{live.url}/orders", allow_redirects=False).status_code == 200


def test_sign_out_by_get_is_not_allowed(live, new_browser):
    user = new_browser()
    sign_in(user, live, MEGAN)
    response = user.http.get(f"{live.url}/auth/logout", allow_redirects=False)
    assert response.status_code == 405
    assert "Traceback" not in response.text
    assert "Welcome back, Megan Bowen" in user.get(f"{live.url}/").text
