"""Several instances, one Redis: a sign-in started on one finishes on another; sign-out on
one is sign-out on all; Entra's front-channel logout ends the session by ``sid`` from a
cross-site frame (no cookie), on whichever instance it lands; framing is allowed for the
identity provider on that URL only."""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from entra_auth.http import build_http_session
from tests.conftest import HOME_TENANT_ID

from .conftest import Browser, sign_in
from .cookie_rules import assert_cookie_deleted, set_cookie_headers

MEGAN = "megan@contoso.example"
SIGNED_OUT = "Sign in with Microsoft"


def assert_signed_out(browser: Browser, live, emulator) -> None:
    response = browser.http.get(f"{live.url}/profile", allow_redirects=False)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).netloc == urlsplit(emulator.url).netloc
    assert SIGNED_OUT in browser.http.get(f"{live.url}/").text


def assert_signed_in(browser: Browser, live) -> None:
    response = browser.http.get(f"{live.url}/profile", allow_redirects=False)
    assert response.status_code == 200 and "Megan Bowen" in response.text


def sign_out_at_entra(browser: Browser, emulator, control) -> dict[str, str]:
    """The user signs out at Entra (e.g. from another app): returns the front-channel frame's sid and iss."""
    mark = control.last_seq()
    page = browser.http.get(f"{emulator.url}/organizations/oauth2/v2.0/logout", allow_redirects=False)
    assert page.status_code == 200
    [entry] = [e for e in control.requests(mark) if e.get("endpoint") == "logout"]
    [frame] = entry["front_channel"]
    assert urlsplit(frame).path == "/auth/logout/frontchannel"
    return {k: v[0] for k, v in parse_qs(urlsplit(frame).query).items()}


@pytest.fixture
def cookieless(emulator):
    """What a cross-site frame sends: no cookie of ours (SameSite=Lax)."""
    with build_http_session(str(emulator.ca_path)) as http:
        yield http


def frontchannel(http: requests.Session, live, params: dict) -> requests.Response:
    return http.get(f"{live.url}/auth/logout/frontchannel", params=params, allow_redirects=False)


def test_front_channel_logout_ends_the_session_on_another_instance(start_app, new_browser, redis_client, emulator,
                                                                   control, cookieless):
    created_on, called_on = start_app(), start_app()
    browser = new_browser()
    sign_in(browser, created_on, MEGAN, "/profile")
    params = sign_out_at_entra(browser, emulator, control)
    assert set(params) == {"sid"}  # Entra sends sid alone (docs/emulator-fidelity.md)
    assert_signed_in(browser, created_on)  # Entra's sign-out alone does not reach our session

    response = frontchannel(cookieless, called_on, params)
    assert response.status_code == 200
    assert not set_cookie_headers(response, "__Host-session")  # a frame's request has no session of its own
    assert not redis_client.keys("session:*")
    assert not redis_client.keys("tokencache:user:*"), "no session of hers is left: her tokens go too"
    assert_signed_out(browser, created_on, emulator)
    assert_signed_out(browser, called_on, emulator)


def test_front_channel_logout_keeps_the_tokens_another_browser_of_the_user_still_uses(live, new_browser, redis_client,
                                                                                     emulator, control, cookieless):
    laptop, phone = new_browser(), new_browser()
    sign_in(laptop, live, MEGAN, "/profile")
    sign_in(phone, live, MEGAN, "/profile")
    frontchannel(cookieless, live, sign_out_at_entra(laptop, emulator, control))
    assert_signed_out(laptop, live, emulator)
    assert_signed_in(phone, live)
    assert redis_client.keys("tokencache:user:*"), "the phone's session still uses the shared partition"


def test_front_channel_logout_with_a_wrong_issuer_or_no_sid_is_refused(live, new_browser, redis_client, emulator,
                                                                       control, cookieless):
    browser = new_browser()
    sign_in(browser, live, MEGAN)
    params = sign_out_at_entra(browser, emulator, control)
    for wrong in ("https://evil.example/11111111-1111-4111-8111-111111111111/v2.0",
                  f"{emulator.url}/33333333-3333-4333-8333-333333333333/v2.0",  # a tenant not allowed here
                  f"{emulator.url}/{HOME_TENANT_ID}/v2.0/", ""):
        response = frontchannel(cookieless, live, {**params, "iss": wrong})
        assert response.status_code == 400, wrong
        assert len(redis_client.keys("session:*")) == 1, wrong
    issuer = f"{emulator.url}/{HOME_TENANT_ID}/v2.0"
    for bad in ({"iss": issuer}, {"sid": "", "iss": issuer}, {"sid": "x" * 300, "iss": issuer}):
        assert frontchannel(cookieless, live, bad).status_code == 400, bad  # no usable sid
    assert_signed_in(browser, live)
    assert frontchannel(cookieless, live, params).status_code == 200  # the control: the right issuer works


def test_only_front_channel_logout_may_be_framed_and_only_by_the_identity_provider(live, new_browser, emulator,
                                                                                   control, cookieless):
    browser = new_browser()
    sign_in(browser, live, MEGAN)
    framed = frontchannel(cookieless, live, sign_out_at_entra(browser, emulator, control))
    assert framed.status_code == 200
    csp = framed.headers["Content-Security-Policy"]
    assert f"frame-ancestors {emulator.url}" in csp and "frame-ancestors 'none'" not in csp
    assert "X-Frame-Options" not in framed.headers
    assert framed.headers["Cache-Control"] == "no-store"

    sign_in(browser, live, MEGAN)
    pages = [browser.http.get(f"{live.url}{path}", allow_redirects=False) for path in ("/", "/profile", "/nope")]
    pages.append(browser.http.get(f"{live.url}/auth/logout", allow_redirects=False))  # 405
    pages.append(frontchannel(cookieless, live, {"sid": "x", "iss": "https://evil.example/"}))  # 400
    for page in pages:
        csp = page.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and emulator.url not in csp.split("frame-ancestors", 1)[1], page.url
        assert page.headers["X-Frame-Options"] == "DENY"


def test_a_sign_in_started_on_one_instance_finishes_on_another(start_app, new_browser, redis_client):
    first, second = start_app(), start_app()
    browser = new_browser()
    start = browser.http.get(f"{first.url}/auth/login?next=/profile", allow_redirects=False)
    answer = browser.follow(browser.http.get(start.headers["Location"], allow_redirects=False), as_user=None)
    action, fields = Browser.form(answer.text, base=answer.url)
    picked = browser.http.post(action, data={**fields, "username": MEGAN}, allow_redirects=False)
    action, fields = Browser.form(picked.text)
    assert action == f"{first.url}/auth/callback"
    # A load balancer sends the callback to the other instance (browsers do not key cookies by port).
    page = browser.follow(browser.http.post(f"{second.url}/auth/callback", data=fields, allow_redirects=False))
    assert page.status_code == 200 and page.url == f"{second.url}/profile"
    assert "Megan Bowen" in page.text
    assert not redis_client.keys("signin:*"), "the flow was taken"
    assert_signed_in(browser, first)


def test_sign_out_on_one_instance_is_sign_out_on_all(start_app, new_browser, redis_client, emulator):
    first, second = start_app(), start_app()
    browser = new_browser()
    sign_in(browser, first, MEGAN, "/profile")
    assert_signed_in(browser, second)
    token = browser.csrf_token(f"{second.url}/")
    response = browser.http.post(f"{second.url}/auth/logout", data={"csrf_token": token}, allow_redirects=False,
                                 headers={"Referer": f"{second.url}/"})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == emulator.url  # then Entra's own sign-out
    assert_cookie_deleted(response)
    assert not redis_client.keys("session:*") and not redis_client.keys("tokencache:user:*")
    assert_signed_out(browser, first, emulator)


def refreshing(redis_client) -> None:
    """Wait until a request holds a token-cache partition's refresh lock (it is mid-refresh)."""
    deadline = time.monotonic() + 5
    while not redis_client.keys("tokencache:user:*:lock"):
        assert time.monotonic() < deadline, "no refresh started"
        time.sleep(0.02)


def test_a_request_in_flight_during_sign_out_does_not_bring_the_session_back(live, new_browser, redis_client,
                                                                            emulator, control, cookieless):
    """A page that loaded the session before a sign-out and writes it afterwards (here: its token
    refresh brought new ID-token claims) must not re-create the session the sign-out ended."""
    control.settings(access_token_lifetime=60)  # every token use refreshes (MSAL's 5-minute margin)
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/orders")
    params = sign_out_at_entra(browser, emulator, control)
    control.fault("token", mode="slow", delay=1.5, count=1)  # the in-flight page's refresh takes a while
    in_flight: list[requests.Response] = []
    slow_page = threading.Thread(target=lambda: in_flight.append(
        browser.http.get(f"{live.url}/orders", allow_redirects=False)))
    slow_page.start()
    refreshing(redis_client)  # the page has opened the session and is waiting on the token endpoint
    assert frontchannel(cookieless, live, params).status_code == 200
    assert not redis_client.keys("session:*")
    slow_page.join(timeout=10)
    assert in_flight and in_flight[0].status_code == 200  # that page itself still renders
    assert not redis_client.keys("session:*"), "the ended session was written back"
    assert_cookie_deleted(in_flight[0])
    assert_signed_out(browser, live, emulator)


def test_a_refresh_in_flight_during_sign_out_does_not_bring_the_tokens_back(live, new_browser, redis_client,
                                                                           emulator, control):
    """Sign-out deletes the user's token cache; a page of another tab that was refreshing at that
    moment must not write the partition (with a fresh refresh token) back afterwards."""
    control.settings(access_token_lifetime=60)  # every token use refreshes (MSAL's 5-minute margin)
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/orders")
    token = browser.csrf_token(f"{live.url}/")
    control.fault("token", mode="slow", delay=1.5, count=1)
    in_flight: list[requests.Response] = []
    other_tab = threading.Thread(target=lambda: in_flight.append(
        browser.http.get(f"{live.url}/orders", allow_redirects=False)))
    other_tab.start()
    refreshing(redis_client)  # that page holds the partition's lock and waits on the token endpoint
    response = browser.http.post(f"{live.url}/auth/logout", data={"csrf_token": token}, allow_redirects=False,
                                 headers={"Referer": f"{live.url}/"})
    assert response.status_code == 302
    other_tab.join(timeout=10)
    assert in_flight and in_flight[0].status_code == 200
    assert not redis_client.keys("tokencache:user:*"), "the signed-out user's tokens were written back"
    assert not redis_client.keys("session:*")
    assert_signed_out(browser, live, emulator)
