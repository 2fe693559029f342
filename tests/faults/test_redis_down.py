"""Redis stopped or hung under a running gunicorn instance, mid-session.

Pages and the API answer 503 with a clear message, in seconds (not at gunicorn's 30 s worker
timeout), never a stack trace and never as if the user were signed out; the browser keeps its
session cookie. When Redis comes back (restarted on its port and data folder: append-only
persistence) the same browser session works again with nothing lost: the session, the token cache
(no new sign-in, no token request) and the orders. Nobody restarts the app.
"""

from __future__ import annotations

import time

import pytest

from entra_auth.http import build_http_session
from tests.conftest import WEB_CLIENT_ID
from tests.web.cookie_rules import set_cookie_headers

SESSION_COOKIE = "__Host-session"
PAGES = ("/orders", "/profile", "/admin", "/")
SECONDS = 5  # an outage answers within this (Redis calls time out after 2 s)


def assert_unavailable_page(response) -> None:
    where = f"{response.request.method} {response.url}"
    assert response.status_code == 503, (where, response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("text/html"), where
    assert "Temporarily unavailable" in response.text and "try again" in response.text, where
    assert response.headers.get("Retry-After", "").isdigit(), where
    assert "Traceback" not in response.text and "redis" not in response.text.lower(), where
    # Not served as a signed-out page: no sign-in button, no trip to the identity provider.
    assert "Sign in with Microsoft" not in response.text, where
    assert not set_cookie_headers(response, SESSION_COOKIE), f"{where}: the session cookie is left alone"


def assert_unavailable_api(response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers.get("Retry-After", "").isdigit()
    assert "invalid_token" not in response.headers.get("WWW-Authenticate", ""), "an outage is not the caller's fault"


def web_tier_identity_requests(control, since: int) -> list[dict]:
    return [e for e in control.requests(since)
            if e["endpoint"] == "authorize" or (e["endpoint"] == "token" and e.get("client_id") == WEB_CLIENT_ID)]


def worker_boots(instance) -> int:
    return instance.stderr.count("Booting worker")


def test_redis_stopped_mid_session_is_a_503_and_the_same_session_works_again_when_it_returns(
        app_instance, faulty_redis, signed_in, control, emulator):
    browser, bearer = signed_in
    cookie = browser.cookie(SESSION_COOKIE)
    boots = worker_boots(app_instance)
    api = build_http_session(str(emulator.ca_path))
    mark = control.last_seq()

    faulty_redis.stop()
    for path in PAGES:
        started = time.monotonic()
        assert_unavailable_page(browser.http.get(f"{app_instance.url}{path}", allow_redirects=False))
        assert time.monotonic() - started < SECONDS
    assert_unavailable_api(api.get(f"{app_instance.url}/api/orders", headers=bearer))
    assert_unavailable_api(api.post(f"{app_instance.url}/api/orders", json={"item": "Lost?", "quantity": 1},
                                    headers=bearer))
    ready = api.get(f"{app_instance.url}/readyz")
    assert (ready.status_code, ready.json()["failing"]) == (503, ["redis"])
    assert api.get(f"{app_instance.url}/healthz").status_code == 200, "liveness: the process is fine"
    assert browser.cookie(SESSION_COOKIE) == cookie

    faulty_redis.start()  # the same port and data folder, as a restarted server or a failed-over one
    restarted = time.monotonic()
    page = browser.http.get(f"{app_instance.url}/orders", allow_redirects=False)
    recovered_in = time.monotonic() - restarted
    assert page.status_code == 200, (page.status_code, page.text[:300])
    assert "Megan Bowen" in page.text and "Persistent chair" in page.text
    assert recovered_in < SECONDS, "the first request after the restart is served: recovery needs nothing else"
    profile = browser.http.get(f"{app_instance.url}/profile", allow_redirects=False)
    assert profile.status_code == 200 and "Marketing Manager" in profile.text
    orders = api.get(f"{app_instance.url}/api/orders", headers=bearer)
    assert orders.status_code == 200 and [o["item"] for o in orders.json()["orders"]] == ["Persistent chair"]
    assert "Lost?" not in orders.text, "the write refused during the outage was not half-done"

    assert browser.cookie(SESSION_COOKIE) == cookie, "the same session, not a new one"
    assert web_tier_identity_requests(control, mark) == [], "no new sign-in and no token request: the cache survived"
    assert app_instance.process.poll() is None and worker_boots(app_instance) == boots, "no restart, no new worker"
    api.close()


def test_a_form_posted_while_redis_is_down_is_a_503_not_an_expired_form(app_instance, faulty_redis, signed_in):
    browser, _ = signed_in
    token = browser.csrf_token(f"{app_instance.url}/orders")
    faulty_redis.stop()
    response = browser.http.post(f"{app_instance.url}/auth/logout", data={"csrf_token": token},
                                 headers={"Referer": f"{app_instance.url}/orders"}, allow_redirects=False)
    assert response.status_code != 500
    assert_unavailable_page(response)


def test_a_hung_redis_answers_503_in_seconds_not_at_the_worker_timeout(app_instance, faulty_redis, signed_in,
                                                                       emulator):
    browser, bearer = signed_in
    api = build_http_session(str(emulator.ca_path))
    faulty_redis.pause()  # accepts connections, answers nothing: only a client timeout gets out
    try:
        for path in ("/orders",):
            started = time.monotonic()
            assert_unavailable_page(browser.http.get(f"{app_instance.url}{path}", allow_redirects=False, timeout=40))
            took = time.monotonic() - started
            assert took < SECONDS, f"{path} took {took:.1f} s: gunicorn's worker timeout is 30 s"
        started = time.monotonic()
        assert_unavailable_api(api.get(f"{app_instance.url}/api/orders", headers=bearer, timeout=40))
        assert time.monotonic() - started < SECONDS
    finally:
        faulty_redis.resume()
    page = browser.http.get(f"{app_instance.url}/orders", allow_redirects=False)
    assert page.status_code == 200 and "Persistent chair" in page.text
    api.close()



@pytest.mark.parametrize("outage", ["stopped", "hung"])
def test_an_anonymous_sign_in_start_while_redis_is_out_is_the_503_page_in_seconds(app_instance, faulty_redis,
                                                                                   emulator, outage):
    """The per-address limit on sign-in starts is counted in Redis before anything else: with Redis out
    that count fails as every other Redis call does (a 503 page, within the client's timeouts), not
    as a 500, not as an unlimited start, and not at gunicorn's worker timeout."""
    anonymous = build_http_session(str(emulator.ca_path))
    stop, restore = (faulty_redis.stop, faulty_redis.start) if outage == "stopped" else (
        faulty_redis.pause, faulty_redis.resume)
    stop()
    try:
        for path in ("/auth/login?next=/orders", "/orders"):
            started = time.monotonic()
            response = anonymous.get(f"{app_instance.url}{path}", allow_redirects=False, timeout=40)
            took = time.monotonic() - started
            assert_unavailable_page(response)
            assert not set_cookie_headers(response, "__Host-signin"), "no sign-in was started"
            assert took < SECONDS, f"{path} took {took:.1f} s"
    finally:
        restore()
    response = anonymous.get(f"{app_instance.url}/auth/login?next=/orders", allow_redirects=False)
    assert response.status_code == 302, "it recovers by itself"
    anonymous.close()
