"""Several instances, one Redis, in each of the three shapes REDIS_URL selects (one server, a Redis
Cluster of three primaries, a master behind Sentinel): each instance is its own gunicorn process
(the Procfile's line, two workers each), so nothing but Redis is shared. A session started on one
instance works on the other; sign-out on one is sign-out on both; a sign-in started on one finishes
on the other; both refreshing one user's tokens at once loses nothing.

(tests/web/test_sign_out_everywhere.py has the same journeys with in-process instances, and the
front-channel logout; here the instances are real processes, and the Redis shapes vary.)
"""

from __future__ import annotations

from urllib.parse import urlsplit

from entra_auth.http import build_http_session
from localdev.browser import Browser
from tests.conftest import WEB_CLIENT_ID
from tests.stored_records import session_key as stored_session_key
from tests.web.conftest import get_all_at_once, sign_in

from .conftest import SESSION_COOKIE

MEGAN = "megan@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"
SIGNED_OUT = "Sign in with Microsoft"
# MSAL treats an access token that expires within 5 minutes as expired: with 60 s tokens, every
# page that needs one refreshes it.
SHORT_LIFETIME = 60
PER_INSTANCE = 4  # parallel page loads per instance (two workers each), all refreshing one user's tokens


def assert_signed_in(browser: Browser, instance) -> None:
    page = browser.http.get(f"{instance.url}/profile", allow_redirects=False)
    assert page.status_code == 200, (instance.url, page.status_code, page.text[:300])
    assert "Megan Bowen" in page.text and MEGAN_OID in page.text
    assert "Marketing Manager" in page.text, "the downstream panel (on-behalf-of) rendered on this instance too"


def assert_signed_out(browser: Browser, instance, emulator) -> None:
    page = browser.http.get(f"{instance.url}/profile", allow_redirects=False)
    assert page.status_code == 302, (instance.url, page.status_code)
    assert urlsplit(page.headers["Location"]).netloc == urlsplit(emulator.url).netloc, "sent to sign in again"
    assert SIGNED_OUT in browser.http.get(f"{instance.url}/").text


def sign_in_requests(control, since: int) -> list[dict]:
    """Sign-ins and token requests of the web tier (the API tier's on-behalf-of exchanges aside: a
    worker that has not loaded the discovery document yet exchanges again, see tests/faults)."""
    return [e for e in control.requests(since)
            if e["endpoint"] == "authorize" or (e["endpoint"] == "token" and e.get("client_id") == WEB_CLIENT_ID)]


def test_both_instances_are_ready(several, emulator):
    with build_http_session(str(emulator.ca_path)) as http:
        for instance in several.instances:
            response = http.get(f"{instance.url}/readyz")
            assert (response.status_code, response.json()) == (200, {"status": "ready"}), instance.url


def test_a_session_started_on_one_instance_works_on_the_other(several, new_browser, bearer_for, control, emulator):
    first, second = several.instances
    bearer = bearer_for(MEGAN)
    with build_http_session(str(emulator.ca_path)) as api:
        for item, instance in (("Chair from one", first), ("Desk from two", second)):  # MULTI on one hash slot
            created = api.post(f"{instance.url}/api/orders", json={"item": item, "quantity": 1}, headers=bearer)
            assert created.status_code == 201, created.text
    browser = new_browser()
    sign_in(browser, first, MEGAN, "/profile")
    [session_key] = several.topology.keys("session:*")
    assert session_key == stored_session_key(browser.cookie(SESSION_COOKIE),
                                             first.env["TOKEN_CACHE_KEYS"].split(","))
    mark = control.last_seq()

    assert_signed_in(browser, second)
    for instance in several.instances:
        orders = browser.http.get(f"{instance.url}/orders", allow_redirects=False)
        assert orders.status_code == 200 and "Megan Bowen" in orders.text
        assert "Chair from one" in orders.text and "Desk from two" in orders.text, "each sees what both wrote"
    assert sign_in_requests(control, mark) == [], "no second sign-in, no new token: the cached ones were used"
    # The other instance found everything in Redis: one session, one token-cache partition.
    assert several.topology.keys("session:*") == {session_key}
    assert len(several.topology.keys("tokencache:user:*")) == 1
    # A browser without the cookie is nobody, on either instance.
    for instance in several.instances:
        assert_signed_out(new_browser(), instance, emulator)


def test_sign_out_on_one_instance_is_sign_out_on_both(several, new_browser, emulator):
    first, second = several.instances
    browser, other_user_browser = new_browser(), new_browser()
    sign_in(browser, first, MEGAN, "/profile")
    sign_in(other_user_browser, second, "adele@contoso.example", "/profile")
    assert_signed_in(browser, second)

    token = browser.csrf_token(f"{second.url}/")
    response = browser.http.post(f"{second.url}/auth/logout", data={"csrf_token": token}, allow_redirects=False,
                                 headers={"Referer": f"{second.url}/"})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).netloc == urlsplit(emulator.url).netloc, "then Entra's sign-out"
    for instance in several.instances:
        assert_signed_out(browser, instance, emulator)
    assert len(several.topology.keys("session:*")) == 1, "only the other user's session is left"
    assert len(several.topology.keys("tokencache:user:*")) == 1, "and only her tokens"
    page = other_user_browser.http.get(f"{first.url}/profile", allow_redirects=False)
    assert page.status_code == 200 and "Adele Vance" in page.text, "another user's sign-out is not hers"


def test_a_sign_in_started_on_one_instance_finishes_on_the_other(several, new_browser):
    first, second = several.instances
    browser = new_browser()
    started = browser.http.get(f"{first.url}/auth/login?next=/profile", allow_redirects=False)
    assert started.status_code == 302
    picker = browser.follow(browser.http.get(started.headers["Location"], allow_redirects=False))
    action, fields = Browser.form(picker.text, base=picker.url)
    answer = browser.http.post(action, data={**fields, "username": MEGAN}, allow_redirects=False)
    action, fields = Browser.form(answer.text)
    assert action == f"{first.url}/auth/callback", "the redirect URI is the first instance's"
    assert len(several.topology.keys("signin:*")) == 1

    # A load balancer sends the callback to the other instance (cookies are not kept per port).
    page = browser.follow(browser.http.post(f"{second.url}/auth/callback", data=fields, allow_redirects=False))
    assert page.status_code == 200 and page.url == f"{second.url}/profile"
    assert "Megan Bowen" in page.text
    assert several.topology.keys("signin:*") == set(), "the in-flight sign-in was taken, once"
    assert_signed_in(browser, first)


def test_both_instances_refreshing_one_users_tokens_at_once_lose_nothing(several, new_browser, control, emulator):
    # Strict rotation (not Entra's default, which keeps a used refresh token valid): only there
    # would two instances redeeming the same refresh token show as a refused refresh.
    control.settings(access_token_lifetime=SHORT_LIFETIME, single_use_refresh_tokens=True)
    first, second = several.instances
    browser = new_browser()
    sign_in(browser, first, MEGAN, "/orders")
    cookie = browser.cookie(SESSION_COOKIE)
    mark = control.last_seq()
    # Every request at once, on both instances and all their workers.
    statuses = get_all_at_once([f"{first.url}/orders", f"{second.url}/orders"] * PER_INSTANCE,
                               (SESSION_COOKIE, cookie), str(emulator.ca_path), timeout=20)
    assert statuses == [200] * 2 * PER_INSTANCE

    refreshes = [e for e in control.requests(mark) if e.get("grant_type") == "refresh_token"]
    assert len(refreshes) >= 2 * PER_INSTANCE, "every page refreshed (otherwise this test proves nothing)"
    assert [e["status"] for e in refreshes if e["status"] != 200] == [], "a refresh token was redeemed twice"
    # Still signed in everywhere, with a refresh token that works.
    for instance in several.instances:
        assert browser.http.get(f"{instance.url}/orders", allow_redirects=False).status_code == 200
    assert [e for e in control.requests(mark) if e.get("grant_type") == "refresh_token" and e["status"] != 200] == []
    assert [e for e in control.requests(mark) if e["endpoint"] == "authorize"] == [], "nobody was sent to sign in"
