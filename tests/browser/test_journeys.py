"""What employees see in a real browser: Chromium, the app over HTTPS on ``localhost``,
the emulator on ``127.0.0.1`` (another site, so sign-in's ``form_post`` is a
genuinely cross-site POST, as with login.microsoftonline.com).

Each step is saved as a screenshot under ``test-artifacts/browser/<test>/``.
``docs/profile.png`` (shown in the README) is the first test's
``05-profile-viewport.png`` (1200 × 900), optimised with
``pngquant --strip --quality 65-85`` then ``optipng -o5``.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from entra_auth.token_cache import TokenCacheCipher
from tests.conftest import HOME_TENANT_ID, TEST_TOKEN_CACHE_KEY
from tests.stored_records import session_key

MEGAN = "megan@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"
ADELE = "adele@contoso.example"
SESSION_COOKIE = "__Host-session"
SIGNIN_COOKIE = "__Host-signin"
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.")
# Chromium logs the status of a page that answers 403 (the refused /admin) as a console error.
ADMIN_403 = r" from https://localhost:\d+/admin: Failed to load resource: .* status of 403"


# -- helpers ----------------------------------------------------------------------------------------

def _origin(url: str) -> str:
    return "{0.scheme}://{0.netloc}".format(urlsplit(url))


def pick_account(window, emulator, username: str, *, screenshot: str) -> None:
    """On the emulator's account picker: check it is the picker, screenshot it, pick ``username``."""
    page = window.page
    expect(page).to_have_title(re.compile(r"^Pick an account"))
    assert _origin(page.url) == emulator.url, "the picker is the identity provider's page, on its own site"
    window.screenshot(screenshot)
    page.get_by_role("button", name=re.compile(re.escape(username))).click()


def tokens_in_redis(redis_client, pattern: str = "tokencache:*") -> list[str]:
    """The tokens the app holds (its encrypted MSAL caches in Redis: users' and on-behalf-of), decrypted."""
    cipher = TokenCacheCipher([TEST_TOKEN_CACHE_KEY])
    secrets = []
    for key in redis_client.scan_iter(pattern):
        if key.endswith(b":lock"):
            continue
        plaintext = cipher.decrypt(redis_client.get(key))
        assert plaintext is not None, key
        for section in ("AccessToken", "RefreshToken", "IdToken"):
            secrets += [entry["secret"] for entry in json.loads(plaintext).get(section, {}).values()]
    return secrets


def app_cookies(window) -> dict[str, dict]:
    """The app's cookies in the browser (the emulator's, on 127.0.0.1, left out), by name."""
    return {c["name"]: c for c in window.context.cookies() if c["domain"].lstrip(".") == "localhost"}


def assert_cookies_are_safe(window, redis_client) -> dict[str, dict]:
    """No token in any cookie of the browser; the session cookie is HttpOnly, Secure, Lax. Returns the app's."""
    tokens = tokens_in_redis(redis_client)
    assert tokens, "the app holds the user's tokens (server-side), so this check can fail"
    for cookie in window.context.cookies():
        value = cookie["value"]
        assert not JWT_SHAPE.search(value), f"a JWT-shaped value in cookie {cookie['name']}"
        # The tail: a JWT's signature, a refresh token's random part (JWT headers are all alike).
        assert not any(token[-24:] in value for token in tokens), f"a token in cookie {cookie['name']}"
    jar = app_cookies(window)
    for cookie in jar.values():
        assert len(cookie["value"]) <= 64, f"the app's cookies carry ids, not data: {cookie['name']}"
    session = jar[SESSION_COOKIE]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Lax", session
    assert session["domain"] == "localhost" and session["path"] == "/", "a __Host- cookie: no Domain, Path=/"
    return jar


def assert_clean_console(window, *, allow: tuple[str, ...] = ()) -> None:
    """No error, warning or CSP violation was logged on any of the app's pages."""
    problems = window.app_console_errors(allow=allow)
    assert problems == [], "\n".join(problems)


def fill_order(window, item: str = "Printer paper", quantity: str = "3", note: str = "A4, recycled") -> None:
    page = window.page
    page.get_by_label("Item").fill(item)
    page.get_by_label("Quantity").fill(quantity)
    page.get_by_label("Note").fill(note)


def order_through_consent(window, live, emulator) -> None:
    """On /orders, signed in: the first order sends the browser to Entra to consent to Orders.Write, and back."""
    page = window.page
    fill_order(window)
    window.screenshot("order-form")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(f"{emulator.url}/**")
    consent = page.locator("section.consent")
    expect(consent.get_by_role("heading", name="Permissions requested")).to_be_visible()
    expect(consent).to_contain_text("Create your orders")
    assert "Orders.Write" in parse_qs(urlsplit(page.url).query)["scope"][0]
    pick_account(window, emulator, MEGAN, screenshot="consent")
    page.wait_for_url(f"{live.url}/orders")


def sign_in_as_megan(window, live, emulator, path: str) -> None:
    page = window.page
    page.goto(path)  # anonymous: straight to sign-in, and back to this page
    pick_account(window, emulator, MEGAN, screenshot="account-picker")
    page.wait_for_url(f"{live.url}{path}")


def sign_out(window, live, emulator) -> None:
    """The header's Sign out button: the emulator's signed-out page, then back to the app by its refresh."""
    page = window.page
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You signed out of your account")).to_be_visible()
    assert _origin(page.url) == emulator.url and urlsplit(page.url).path.endswith("/oauth2/v2.0/logout")
    assert parse_qs(urlsplit(page.url).query)["post_logout_redirect_uri"] == [f"{live.url}/"]
    window.screenshot("signed-out-at-entra")
    # The emulator's page sends the browser back after two seconds (meta refresh), no click needed.
    page.wait_for_url(f"{live.url}/", timeout=10_000)
    expect(page.get_by_role("link", name="Sign in with Microsoft")).to_be_visible()
    window.screenshot("back-on-the-app-signed-out")


# -- the tests --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_an_employee_signs_in_orders_is_refused_admin_and_signs_out_then_an_admin_sees_the_order(
        start_app, new_window, emulator, redis_client):
    live = start_app()
    window = new_window(live.url)
    page = window.page
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)

    # -- Megan signs in from the landing page, on the emulator's account picker.
    page.goto("/")
    expect(page.get_by_role("heading", name="Orders for Contoso employees")).to_be_visible()
    window.screenshot("landing")
    page.get_by_role("link", name="Sign in with Microsoft").click()
    page.wait_for_url(f"{emulator.url}/**")
    # The in-flight sign-in's cookie must survive the cross-site form_post: SameSite=None; Secure.
    signin = app_cookies(window)[SIGNIN_COOKIE]
    assert signin["sameSite"] == "None" and signin["secure"] and signin["httpOnly"], signin
    assert SESSION_COOKIE not in app_cookies(window), "no session before sign-in"
    pick_account(window, emulator, MEGAN, screenshot="account-picker")
    page.wait_for_url(f"{live.url}/")
    expect(page.get_by_role("heading", name="Welcome back, Megan Bowen")).to_be_visible()
    window.screenshot("signed-in")
    # Through the emulator's form_post page (its script posted the answer back across sites).
    assert any(_origin(u) == emulator.url and "/login" in urlsplit(u).path for u in navigations), navigations
    assert f"{live.url}/" in navigations
    jar = assert_cookies_are_safe(window, redis_client)
    assert SIGNIN_COOKIE not in jar, "the sign-in cookie is gone once the callback used it"

    # -- /profile: the ID token's claims, explained, and the directory profile fetched on her behalf.
    page.get_by_role("link", name="What the app knows about me").click()
    page.wait_for_url(f"{live.url}/profile")
    claims = page.locator("table.claims")
    expect(claims.locator("tr", has=page.locator("code", has_text="preferred_username"))).to_contain_text(MEGAN)
    expect(claims.locator("tr", has=page.locator("code", has_text="oid"))).to_contain_text(MEGAN_OID)
    expect(claims.locator("tr", has=page.locator("code", has_text="tid"))).to_contain_text(HOME_TENANT_ID)
    directory = page.locator("section", has=page.get_by_role("heading", name="Your directory profile"))
    expect(directory).to_contain_text("Marketing Manager")
    expect(directory.get_by_role("alert")).to_have_count(0)
    window.screenshot("profile")
    window.screenshot("profile-viewport", full_page=False)  # the source of docs/profile.png

    # -- The first order needs Orders.Write: a consent round trip on the emulator, then placed.
    page.get_by_role("link", name="My orders").click()
    page.wait_for_url(f"{live.url}/orders")
    expect(page.get_by_text("No orders yet.")).to_be_visible()
    order_through_consent(window, live, emulator)
    window.screenshot("back-after-consent")
    # The form should have been kept (test_the_order_form_is_kept_across_the_consent_round_trip): fill it again.
    fill_order(window)
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("status")).to_contain_text("Order placed: 3 × Printer paper")
    assert urlsplit(page.url).path == "/orders"
    expect(page.locator("table.orders tbody tr")).to_have_count(1)
    expect(page.locator("table.orders")).to_contain_text("A4, recycled")
    window.screenshot("order-placed")

    # -- /admin is not for her: the 403 page, and no link to it in the header.
    expect(page.get_by_role("link", name="All orders")).to_have_count(0)
    response = page.goto("/admin")
    assert response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("This page needs the Orders.Admin role.")
    window.screenshot("admin-refused")
    assert_cookies_are_safe(window, redis_client)
    assert_clean_console(window, allow=(ADMIN_403,))

    # -- Sign out: the emulator's signed-out page, then back on the app, signed out.
    page.goto("/profile")
    session_id = app_cookies(window)[SESSION_COOKIE]["value"]
    assert redis_client.exists(session_key(session_id))
    sign_out(window, live, emulator)
    assert SESSION_COOKIE not in app_cookies(window), "the session cookie was deleted"
    assert not redis_client.exists(session_key(session_id)), "the session ended on the server"
    # Her token cache is gone (the API tier's on-behalf-of cache lives until the token it was keyed by expires).
    assert not tokens_in_redis(redis_client, "tokencache:user:*"), "her tokens are forgotten"

    # -- Adele, in the same browser: /admin sends her through sign-in and back to it, with Megan's order.
    page.goto("/admin")
    pick_account(window, emulator, ADELE, screenshot="admin-account-picker")
    page.wait_for_url(f"{live.url}/admin")
    expect(page.get_by_role("heading", name="All orders of your organization")).to_be_visible()
    row = page.locator("table.orders tbody tr", has_text="Printer paper")
    expect(row).to_contain_text("Megan Bowen")
    expect(row).to_contain_text("A4, recycled")
    expect(page.get_by_role("link", name="All orders")).to_be_visible()
    window.screenshot("admin-sees-the-tenants-orders")
    assert_cookies_are_safe(window, redis_client)
    assert_clean_console(window, allow=(ADMIN_403,))


def test_a_revoked_session_goes_through_sign_in_with_the_claims_challenge_and_back(
        start_app, new_window, emulator, control, redis_client):
    live = start_app()
    window = new_window(live.url)
    page = window.page

    sign_in_as_megan(window, live, emulator, "/profile")
    expect(page.locator("section", has_text="Your directory profile")).to_contain_text("Marketing Manager")
    window.screenshot("profile")

    # Continuous access evaluation: her sessions and refresh tokens are revoked; the downstream
    # refuses the token it holds with a claims challenge, which the app turns into a sign-in.
    control.revoke(MEGAN)
    seq = control.last_seq()
    page.reload()
    page.wait_for_url(f"{emulator.url}/**")
    query = parse_qs(urlsplit(page.url).query)
    assert json.loads(query["claims"][0]).get("access_token"), "the sign-in carries the claims challenge"
    assert query["login_hint"] == [MEGAN], "and names her, so she is not asked who she is"
    expect(page.get_by_text("Conditional Access asked for more")).to_be_visible()
    pick_account(window, emulator, MEGAN, screenshot="claims-challenge")
    page.wait_for_url(f"{live.url}/profile")
    expect(page.locator("section", has_text="Your directory profile")).to_contain_text("Marketing Manager")
    window.screenshot("profile-after-challenge")
    authorizations = [e for e in control.requests(seq) if e["endpoint"] == "authorize"
                      and e["path"].endswith("/oauth2/v2.0/authorize")]
    assert len(authorizations) == 1, "one trip through sign-in, no loop"
    assert_cookies_are_safe(window, redis_client)
    assert_clean_console(window)


def test_the_csp_blocks_an_injected_inline_script_and_the_console_check_sees_it(start_app, new_window):
    live = start_app()
    window = new_window(live.url)
    page = window.page
    page.goto("/")
    # What an HTML injection would try: an inline script. The app's CSP has no 'unsafe-inline'.
    with page.expect_console_message(lambda message: "Content Security Policy" in message.text):
        page.evaluate("""() => {
            const script = document.createElement("script");
            script.textContent = "document.body.dataset.injected = 'ran'";
            document.head.appendChild(script);
        }""")
    assert page.evaluate("document.body.dataset.injected") is None, "the inline script did not run"
    problems = window.app_console_errors()
    assert any("Content Security Policy" in p and "inline script" in p for p in problems), problems


# The callback is Entra's cross-site form_post: the browser does not send the SameSite=Lax session
# cookie with it (only the SameSite=None sign-in cookie). HTTP-level tests (tests/web) cannot see
# this: their cookie jar ignores SameSite. These two show the callback does not depend on it.


def test_the_order_form_is_kept_across_the_consent_round_trip(start_app, new_window, emulator):
    live = start_app()
    window = new_window(live.url)
    sign_in_as_megan(window, live, emulator, "/orders")
    order_through_consent(window, live, emulator)
    page = window.page
    window.screenshot("back-after-consent")
    expect(page.get_by_label("Item")).to_have_value("Printer paper", timeout=1000)
    expect(page.get_by_label("Quantity")).to_have_value("3", timeout=1000)
    expect(page.get_by_label("Note")).to_have_value("A4, recycled", timeout=1000)
    expect(page.get_by_role("status")).to_contain_text("Your order was kept while you granted access", timeout=1000)


def test_re_signing_in_for_consent_ends_the_session_it_replaces(start_app, new_window, emulator, redis_client):
    live = start_app()
    window = new_window(live.url)
    sign_in_as_megan(window, live, emulator, "/orders")
    before = app_cookies(window)[SESSION_COOKIE]["value"]
    order_through_consent(window, live, emulator)
    after = app_cookies(window)[SESSION_COOKIE]["value"]
    assert after != before, "a fresh session id at re-sign-in"
    assert redis_client.exists(session_key(after))
    assert not redis_client.exists(session_key(before)), "the session it replaced is ended"


def test_the_app_serves_a_favicon(start_app, new_window):
    live = start_app()
    window = new_window(live.url)
    page = window.page
    page.goto("/")
    # What Chromium fetches: the icon the page declares, else /favicon.ico.
    icon = page.evaluate("document.querySelector('link[rel~=icon]')?.href") or f"{live.url}/favicon.ico"
    if not icon.startswith("data:"):
        assert page.goto(icon).status == 200, icon
