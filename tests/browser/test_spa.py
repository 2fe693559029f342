"""The single-page client in a real browser (issue #18): headless Chromium runs the committed
bundle (the real @azure/msal-browser), which signs in against the emulator over HTTPS (its CA
trusted in NSS, nothing ignored) and calls the Orders API with its own bearer tokens.

Two layouts, the same journey: the SPA served by the API's own app (same origin), and the SPA
served by a second app instance on another origin, calling the API cross-origin, which lets
that origin in with ``API_CORS_ORIGINS``. Both app instances share one Redis, as in production.

``docs/spa.png`` (README, "The single-page client") is the cross-origin journey's
``order-placed-viewport.png``, optimised with ``pngquant --strip --quality 65-85`` then
``optipng -o5``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError, expect
from werkzeug.serving import make_server

from config import DEV_SPA_CLIENT_ID
from localdev.embedded_redis import free_port
from tests.conftest import API_CLIENT_ID, LIVE_APP_URLS, ROOT

from tests.web.conftest import LiveApp

from .test_journeys import JWT_SHAPE, MEGAN, pick_account

SPA_CLIENT_ID = DEV_SPA_CLIENT_ID
MSAL_VERSION = json.loads((ROOT / "spa" / "package-lock.json").read_text())["packages"][
    "node_modules/@azure/msal-browser"]["version"]


def _origin(url: str) -> str:
    return "{0.scheme}://{0.netloc}".format(urlsplit(url))


@dataclass
class SpaLayout:
    """Where the SPA is served and where the API it calls lives."""

    spa_url: str
    api_url: str
    token_requests: list[dict] = field(default_factory=list)  # what the browser sent to the token endpoint
    api_requests: list[dict] = field(default_factory=list)  # what the browser sent to /api/*
    api_app: object = None  # the API's LiveApp, when the test needs to stop it

    @property
    def cross_origin(self) -> bool:
        return _origin(self.spa_url) != _origin(self.api_url)


@pytest.fixture(params=["cross-origin", "same-origin"])
def layout(request, start_app) -> SpaLayout:
    if request.param == "same-origin":
        live = start_app()
        return SpaLayout(spa_url=f"{live.url}/spa/", api_url=live.url)
    return serve_cross_origin(start_app)


def serve_cross_origin(start_app) -> SpaLayout:
    """The API on the first app instance, letting in the second's origin; the SPA on the second."""
    api_url, spa_base = LIVE_APP_URLS[0], LIVE_APP_URLS[1]  # start_app takes these ports in order
    api_app = start_app(API_CORS_ORIGINS=[spa_base])
    start_app(SPA_API_BASE_URL=api_url)
    return SpaLayout(spa_url=f"{spa_base}/spa/", api_url=api_url, api_app=api_app)


def open_spa(new_window, layout: SpaLayout, emulator):
    window = new_window(_origin(layout.spa_url))
    window.app_origins.add(_origin(layout.api_url))

    def record(req):
        path = urlsplit(req.url).path
        try:
            headers = req.all_headers()
        except PlaywrightError:  # the window closed meanwhile (the test's end)
            return
        if req.url.startswith(emulator.url) and path.endswith("/oauth2/v2.0/token") and req.method == "POST":
            layout.token_requests.append({"origin": headers.get("origin"), "form": parse_qs(req.post_data or ""),
                                          # MSAL.js names itself (x-client-SKU, x-client-VER) in
                                          # parameters, not headers: a simple request, no preflight.
                                          "query": parse_qs(urlsplit(req.url).query),
                                          "content_type": headers.get("content-type")})
        elif req.url.startswith(layout.api_url) and path.startswith("/api/"):
            layout.api_requests.append({"method": req.method, "path": path, "origin": headers.get("origin"),
                                        "authorization": headers.get("authorization", ""),
                                        "cookie": headers.get("cookie")})

    window.page.on("request", record)
    return window


def storage(page, kind: str) -> dict[str, str]:
    return page.evaluate(f"() => Object.fromEntries(Object.entries(window.{kind}))")


def cached_access_tokens(page) -> list[str]:
    """The access tokens MSAL keeps in sessionStorage (its cache entries of type AccessToken)."""
    tokens = []
    for value in storage(page, "sessionStorage").values():
        try:
            entry = json.loads(value)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("credentialType") == "AccessToken":
            tokens.append(entry["secret"])
    return tokens


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def sign_in(window, layout: SpaLayout, emulator, *, screenshot_prefix: str = "") -> None:
    page = window.page
    page.goto(layout.spa_url)
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.wait_for_url(f"{emulator.url}/**")
    query = parse_qs(urlsplit(page.url).query)
    assert query["client_id"] == [SPA_CLIENT_ID] and query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [layout.spa_url]
    pick_account(window, emulator, MEGAN, screenshot=f"{screenshot_prefix}account-picker")
    page.wait_for_url(layout.spa_url + "**")
    expect(page.get_by_text("Signed in as Megan Bowen")).to_be_visible()


def place_order_through_consent(window, layout: SpaLayout, emulator) -> None:
    page = window.page
    page.get_by_label("Item").fill("Printer paper")
    page.get_by_label("Quantity").fill("3")
    page.get_by_label("Note").fill("A4, recycled")
    window.screenshot("order-form")
    page.get_by_role("button", name="Place order").click()
    # Orders.Write was not granted at sign-in: Entra asks for it now (incremental consent).
    page.wait_for_url(f"{emulator.url}/**")
    assert f"api://{API_CLIENT_ID}/Orders.Write" in parse_qs(urlsplit(page.url).query)["scope"][0]
    consent = page.locator("section.consent")
    expect(consent).to_contain_text("Create your orders")
    pick_account(window, emulator, MEGAN, screenshot="consent")
    page.wait_for_url(layout.spa_url + "**")
    expect(page.get_by_role("status")).to_contain_text("Order placed: 3 × Printer paper")
    expect(page.locator("#orders tbody tr")).to_have_count(1)
    expect(page.locator("#orders")).to_contain_text("A4, recycled")


# The silent try for Orders.Write before consent: Entra answers 400 (consent needed), and Chromium logs
# every 4xx fetch on the console. MSAL turns it into the interactive request the journey expects.
SILENT_TRY_REFUSED = r" from https://127\.0\.0\.1:\d+/organizations/oauth2/v2\.0/token\?.*status of 400"


def assert_no_token_outside_session_storage(window, *, allow: tuple[str, ...] = ()) -> None:
    page = window.page
    tokens = cached_access_tokens(page)
    assert tokens, "MSAL keeps the tokens in sessionStorage (so this check can fail)"
    assert storage(page, "localStorage") == {}, "nothing in localStorage"
    for cookie in window.context.cookies():
        assert not JWT_SHAPE.search(cookie["value"]), cookie["name"]
        assert not any(t[-24:] in cookie["value"] for t in tokens), cookie["name"]
    problems = window.app_console_errors(allow=allow)
    assert problems == [], "\n".join(problems)
    assert not any(JWT_SHAPE.search(text) for *_, text in window.console), "no token in the console"


# -- the journey ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_sign_in_list_order_with_consent_and_sign_out(layout, new_window, emulator, redis_client):
    window = open_spa(new_window, layout, emulator)
    page = window.page

    sign_in(window, layout, emulator)
    expect(page.get_by_text("No orders yet.")).to_be_visible()
    expect(page.locator("#profile")).to_contain_text("Marketing Manager")  # /api/me: on-behalf-of, downstream
    window.screenshot("signed-in")

    # The code was redeemed by the browser itself: cross-origin to the emulator, no secret, with PKCE,
    # by the locked MSAL.js build.
    [redemption] = [r for r in layout.token_requests if r["form"]["grant_type"] == ["authorization_code"]]
    assert redemption["origin"] == _origin(layout.spa_url)
    assert redemption["form"]["client_id"] == [SPA_CLIENT_ID] and "code_verifier" in redemption["form"]
    assert "client_secret" not in redemption["form"] and "client_assertion" not in redemption["form"]
    sent = {**redemption["query"], **redemption["form"]}
    assert sent["x-client-SKU"] == ["msal.js.browser"]
    assert sent["x-client-VER"] == [MSAL_VERSION], "the bundle's MSAL is the lockfile's"

    # Its token is the SPA's own delegated token for the API, with Orders.Read only so far.
    [token] = cached_access_tokens(page)
    claims = claims_of(token)
    assert claims["aud"] == API_CLIENT_ID and claims["azp"] == SPA_CLIENT_ID and claims["scp"] == "Orders.Read"

    place_order_through_consent(window, layout, emulator)
    window.screenshot("order-placed")
    window.screenshot("order-placed-viewport", full_page=False)  # the source of docs/spa.png

    calls = layout.api_requests
    assert {(c["method"], c["path"]) for c in calls} >= {("GET", "/api/orders"), ("GET", "/api/me"),
                                                          ("POST", "/api/orders")}
    for call in calls:
        assert call["authorization"].startswith("Bearer ") and call["cookie"] is None, "a bearer token, no cookie"
        assert call["origin"] == (_origin(layout.spa_url) if layout.cross_origin else call["origin"])
    if layout.cross_origin:
        assert all(c["origin"] == _origin(layout.spa_url) for c in calls)
    silent_tries = [r for r in layout.token_requests if r["form"]["grant_type"] == ["refresh_token"]
                    and f"api://{API_CLIENT_ID}/Orders.Write" in r["form"]["scope"][0]]
    assert len(silent_tries) == 1, "one silent try for Orders.Write, refused, before the consent round trip"
    assert_no_token_outside_session_storage(window, allow=(SILENT_TRY_REFUSED,))
    assert not any(key.startswith(b"session:") for key in redis_client.scan_iter()), \
        "the SPA never made a server-side session"

    # Sign out: MSAL clears the tab's tokens and sends the browser to Entra's logout, which sends it back.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{emulator.url}/**")
    assert urlsplit(page.url).path.endswith("/oauth2/v2.0/logout")
    assert parse_qs(urlsplit(page.url).query)["post_logout_redirect_uri"] == [layout.spa_url]
    window.screenshot("signed-out-at-entra")
    page.wait_for_url(layout.spa_url + "**", timeout=10_000)
    expect(page.get_by_role("button", name="Sign in with Microsoft")).to_be_visible()
    assert cached_access_tokens(page) == [], "no token is left in the tab"
    window.screenshot("back-signed-out")


# -- the rest of the journey, both layouts ----------------------------------------------------------

@pytest.fixture
def cross_origin(start_app) -> SpaLayout:
    return serve_cross_origin(start_app)


def refresh_orders(page) -> None:
    """Click "Refresh orders" and wait for the API's answer to the list it asks for."""
    with page.expect_response(lambda r: urlsplit(r.url).path == "/api/orders" and r.request.method == "GET"):
        page.get_by_role("button", name="Refresh orders").click()


@contextlib.contextmanager
def foreign_page_server():
    """A plain page served on loopback from another origin than the SPA's and the API's; yields its origin."""
    def page(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [b"<!doctype html><title>Another site</title><p>Not the Orders SPA."]

    server = make_server("127.0.0.1", free_port(), page, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def grants(layout: SpaLayout, grant_type: str) -> list[dict]:
    return [r for r in layout.token_requests if r["form"]["grant_type"] == [grant_type]]


def test_a_claims_challenge_from_the_api_becomes_an_interactive_request_with_those_claims(
        layout, new_window, emulator, control):
    window = open_spa(new_window, layout, emulator)
    page = window.page
    sign_in(window, layout, emulator)
    expect(page.locator("#profile")).to_contain_text("Marketing Manager")

    # Continuous access evaluation: her sessions and refresh tokens are revoked; the downstream refuses
    # the API's on-behalf-of token with a claims challenge, which the API passes on in WWW-Authenticate.
    control.revoke(MEGAN)
    challenged = []
    page.on("response", lambda r: challenged.append(r.headers.get("www-authenticate", ""))
            if r.url.endswith("/api/me") and r.status == 401 else None)
    page.reload()
    page.wait_for_url(f"{emulator.url}/**")
    query = parse_qs(urlsplit(page.url).query)
    [challenge] = challenged
    sent = re.search(r'claims="([^"]+)"', challenge).group(1)
    # MSAL merges its own ID-token claims requests in; the access token's are the challenge's, as sent.
    assert json.loads(query["claims"][0])["access_token"] == json.loads(base64.b64decode(sent))["access_token"], \
        "the sign-in carries the claims the API's challenge named"
    pick_account(window, emulator, MEGAN, screenshot="claims-challenge")
    page.wait_for_url(layout.spa_url + "**")
    expect(page.locator("#profile")).to_contain_text("Marketing Manager")
    expect(page.get_by_role("alert")).to_be_hidden()
    window.screenshot("profile-after-challenge")
    authorizations = [e for e in control.requests() if e["endpoint"] == "authorize"
                      and e["path"].endswith("/oauth2/v2.0/authorize")
                      and "access_token" in json.loads(e.get("claims") or "{}")]
    assert len(authorizations) == 1, "one trip through sign-in, no loop"


def test_silent_renewal_after_the_access_token_expires(layout, new_window, emulator, control):
    control.settings(access_token_lifetime=600)  # ten minutes, so the browser's clock can pass it
    window = open_spa(new_window, layout, emulator)
    page = window.page
    page.clock.install()  # the page's clock, moved on below; time flows as usual until then
    sign_in(window, layout, emulator)
    expect(page.get_by_text("No orders yet.")).to_be_visible()
    [first] = cached_access_tokens(page)
    refresh_orders(page)
    assert grants(layout, "refresh_token") == [], "a valid token is used from the cache"

    page.clock.fast_forward("11:00")  # past the access token's expiry
    refresh_orders(page)
    [renewal] = grants(layout, "refresh_token")
    assert renewal["origin"] == _origin(layout.spa_url) and "client_secret" not in renewal["form"]
    [second] = cached_access_tokens(page)
    assert second != first and claims_of(second)["iat"] >= claims_of(first)["iat"]
    last_orders_call = [c for c in layout.api_requests if c["path"] == "/api/orders"][-1]
    assert last_orders_call["authorization"] == f"Bearer {second}", "the renewed token went to the API"
    expect(page.get_by_role("alert")).to_be_hidden()


def test_an_expired_refresh_token_and_no_session_at_entra_lead_to_interactive_sign_in(
        layout, new_window, emulator, control):
    control.settings(access_token_lifetime=600)
    window = open_spa(new_window, layout, emulator)
    page = window.page
    page.clock.install()
    sign_in(window, layout, emulator)
    expect(page.get_by_text("No orders yet.")).to_be_visible()

    # A day later: the SPA's refresh token (a fixed 24 hours) has expired, and so has her session at Entra.
    control.age_refresh_tokens(86400, client_id=SPA_CLIENT_ID, end_sessions=True)
    page.clock.fast_forward("24:01:00")
    page.get_by_role("button", name="Refresh orders").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Your sign-in has expired and could not be renewed. Sign in again to continue.")
    window.screenshot("sign-in-expired")
    [renewal] = grants(layout, "refresh_token")
    assert renewal["origin"] == _origin(layout.spa_url)
    # MSAL then tried a hidden iframe (prompt=none): Entra had no session for her, so login_required.
    silent = [e for e in control.requests() if e["endpoint"] == "authorize" and e.get("prompt") == "none"]
    assert [e.get("error", {}).get("error") for e in silent] == ["login_required"], silent

    alert.get_by_role("button", name="Sign in again").click()
    page.wait_for_url(f"{emulator.url}/**")
    pick_account(window, emulator, MEGAN, screenshot="signing-in-again")
    page.wait_for_url(layout.spa_url + "**")
    expect(page.get_by_text("No orders yet.")).to_be_visible()
    expect(page.get_by_role("alert")).to_be_hidden()


def test_sign_in_in_a_pop_up_window(layout, new_window, emulator):
    window = open_spa(new_window, layout, emulator)
    page = window.page
    page.goto(layout.spa_url)
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Sign in in a pop-up window").click()
    popup = opened.value
    popup.wait_for_url(f"{emulator.url}/**")
    expect(popup).to_have_title(re.compile(r"^Pick an account"))
    popup.get_by_role("button", name=re.compile(re.escape(MEGAN))).click()
    expect(page.get_by_text("Signed in as Megan Bowen")).to_be_visible()
    assert page.url == layout.spa_url, "the page itself never left"
    expect(page.get_by_text("No orders yet.")).to_be_visible()


def test_a_foreign_origin_gets_no_cors_grant_in_the_browser(cross_origin, new_window, emulator):
    """The same call with the same valid token: from the SPA's origin the browser lets the script read the
    answer; from any other origin the API grants nothing and the browser refuses the script the answer."""
    layout = cross_origin
    window = open_spa(new_window, layout, emulator)
    page = window.page
    sign_in(window, layout, emulator)
    expect(page.get_by_text("No orders yet.")).to_be_visible()
    [token] = cached_access_tokens(page)
    call = """async ([url, token]) => {
        try {
            const r = await fetch(url, {headers: {Authorization: `Bearer ${token}`}});
            return `read ${r.status}`;
        } catch (e) { return `refused: ${e.name}`; }
    }"""
    url = f"{layout.api_url}/api/orders"
    assert page.evaluate(call, [url, token]) == "read 200"

    # A page of another origin on this machine, with no CSP of ours in its way: a server of the test's own on
    # loopback (Chromium refuses a public page's calls to loopback outright; here only CORS decides).
    with foreign_page_server() as foreign_origin:
        foreign = window.context.new_page()
        foreign.goto(f"{foreign_origin}/")
        assert foreign.evaluate(call, [url, token]) == "refused: TypeError"
        foreign.close()


# -- what the user reads when something goes wrong ---------------------------------------------------

def test_declining_the_consent_for_an_order_says_nothing_was_ordered(cross_origin, new_window, emulator):
    layout = cross_origin
    window = open_spa(new_window, layout, emulator)
    page = window.page
    sign_in(window, layout, emulator)
    page.get_by_label("Item").fill("Printer paper")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(f"{emulator.url}/**")
    expect(page.locator("section.consent")).to_contain_text("Create your orders")
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(layout.spa_url + "**")
    expect(page.get_by_role("alert")).to_contain_text(
        "You did not allow Contoso Orders to place orders for you, so nothing was ordered.")
    expect(page.get_by_text("Signed in as Megan Bowen")).to_be_visible()  # still signed in, for reading
    expect(page.get_by_text("No orders yet.")).to_be_visible()
    window.screenshot("consent-declined")
    assert not [c for c in layout.api_requests if c["method"] == "POST"], "no order was sent"


def test_cancelling_sign_in_says_so(cross_origin, new_window, emulator):
    layout = cross_origin
    window = open_spa(new_window, layout, emulator)
    page = window.page
    page.goto(layout.spa_url)
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.wait_for_url(f"{emulator.url}/**")
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(layout.spa_url + "**")
    expect(page.get_by_role("alert")).to_contain_text("Sign-in was cancelled. You are not signed in")
    expect(page.get_by_role("button", name="Sign in with Microsoft")).to_be_visible()


def test_the_api_being_down_reads_as_such_and_recovers(cross_origin, new_window, emulator):
    layout = cross_origin
    window = open_spa(new_window, layout, emulator)
    page = window.page
    sign_in(window, layout, emulator)
    expect(page.get_by_text("No orders yet.")).to_be_visible()

    layout.api_app.stop()  # the API's server is gone: the browser's fetch fails outright
    page.get_by_role("button", name="Refresh orders").click()
    expect(page.get_by_role("alert")).to_contain_text("The Orders service cannot be reached right now.")
    window.screenshot("api-down")

    # It comes back on the same address: the next try works, and the message goes.
    back = LiveApp(layout.api_app.app, layout.api_app.port,
                   str(emulator.emulator.ca.server_certificate(["127.0.0.1", "localhost", "::1"])))
    try:
        refresh_orders(page)
        expect(page.get_by_role("alert")).to_be_hidden()
    finally:
        back.stop()
