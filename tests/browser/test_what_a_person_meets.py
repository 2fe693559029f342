"""What a person meets in the first hour, in Chromium: an administrator's "My orders" is
theirs, a cancelled sign-in reads as cancelled, and every error page leads somewhere.

``docs/signin-cancelled.png`` is ``test_cancel_at_the_account_picker...``'s
``03-signin-cancelled-viewport.png`` and ``docs/not-found.png`` is
``test_each_error_page...``'s ``01-not-found-viewport.png`` (1200 × 900), copied as taken
(about 30 KB each; no pngquant/optipng on the machine that took them).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import redis
from playwright.sync_api import expect
from werkzeug.exceptions import TooManyRequests

from orders_store import OrderStore
from tests.conftest import HOME_TENANT_ID

from .test_journeys import ADELE, MEGAN, MEGAN_OID, assert_clean_console, pick_account, sign_in_as_megan

ADELE_OID = "a0000001-0000-4000-8000-000000000002"
# Chromium logs every page that answers an error status as a console error: expected on error pages.
ERROR_STATUS = r"Failed to load resource: the server responded with a status of (403|404|405|429|500|503)"


def _signed_in_as_adele(window, live, emulator, path: str) -> None:
    window.page.goto(path)
    pick_account(window, emulator, ADELE, screenshot="account-picker")
    window.page.wait_for_url(f"{live.url}{path}")


@pytest.mark.slow
def test_an_administrators_my_orders_are_hers_and_all_orders_show_everyones_with_owners(
        start_app, new_window, emulator, redis_client):
    store = OrderStore(redis_client)
    store.create(tid=HOME_TENANT_ID, owner_oid=MEGAN_OID, owner_name="Megan Bowen", item="Megan's stapler",
                 quantity=2, note="blue")
    store.create(tid=HOME_TENANT_ID, owner_oid=ADELE_OID, owner_name="Adele Vance", item="Adele's toner",
                 quantity=1, note="black")
    live = start_app()
    window = new_window(live.url)
    page = window.page

    _signed_in_as_adele(window, live, emulator, "/orders")
    expect(page.get_by_role("heading", name="My orders")).to_be_visible()
    rows = page.locator("table.orders tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Adele's toner")
    expect(page.locator("main")).not_to_contain_text("Megan's stapler")
    window.screenshot("my-orders")

    page.get_by_role("link", name="All orders").click()
    page.wait_for_url(f"{live.url}/admin")
    expect(page.locator("table.orders th", has_text="Ordered by")).to_be_visible()
    expect(page.locator("table.orders tbody tr")).to_have_count(2)
    expect(page.locator("table.orders tbody tr", has_text="Megan's stapler")).to_contain_text("Megan Bowen")
    expect(page.locator("table.orders tbody tr", has_text="Adele's toner")).to_contain_text("Adele Vance")
    window.screenshot("all-orders")
    assert_clean_console(window)


@pytest.mark.slow
def test_cancel_at_the_account_picker_reads_as_cancelled_and_leads_back_to_sign_in(
        start_app, new_window, emulator, redis_client):
    live = start_app()
    window = new_window(live.url)
    page = window.page
    page.goto("/profile")
    expect(page).to_have_title(re.compile(r"^Pick an account"))
    window.screenshot("account-picker")
    page.get_by_role("button", name="Cancel").click()

    page.wait_for_url(f"{live.url}/auth/signin-ended?**")
    assert urlsplit(page.url).path == "/auth/signin-ended", "not left on /auth/callback"
    assert "AADSTS" not in page.url and "error" not in page.url, "only the app's own words in the address"
    problem = page.locator("main section").first
    expect(problem.get_by_role("heading", name="Sign-in was cancelled")).to_be_visible()
    # A choice the user made, not a failure: no red alert.
    expect(problem).to_have_attribute("role", "status")
    expect(problem).not_to_have_class(re.compile(r"\bproblem\b"))
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(problem).to_contain_text("You cancelled signing in")
    expect(problem).not_to_contain_text("Something about this sign-in was not right")
    expect(problem).not_to_contain_text("AADSTS")
    expect(problem).to_contain_text(re.compile(r"Reference: [0-9a-f-]{36}"))
    window.screenshot("signin-cancelled")
    window.screenshot("signin-cancelled-viewport", full_page=False)  # the source of docs/signin-cancelled.png
    assert not redis_client.keys("session:*"), "nobody was signed in"

    # Its way on: sign in again, straight to the account picker; this time she picks her account.
    problem.get_by_role("link", name="Sign in again").click()
    pick_account(window, emulator, MEGAN, screenshot="account-picker-again")
    page.wait_for_url(f"{live.url}/")
    expect(page.get_by_role("heading", name="Welcome back, Megan Bowen")).to_be_visible()
    assert_clean_console(window)


def _test_routes(app) -> None:
    """Views that fail the ways a real outage or a rate limit does (registered before the first request)."""

    def too_many():
        raise TooManyRequests(retry_after=30)

    def broken():
        raise RuntimeError("a bug")

    def store_down():
        raise redis.ConnectionError("Redis is down")

    app.add_url_rule("/test/too-many", view_func=too_many)
    app.add_url_rule("/test/broken", view_func=broken)
    app.add_url_rule("/test/store-down", view_func=store_down)


@pytest.mark.slow
def test_each_error_page_says_what_happened_and_leads_somewhere(start_app, new_window, emulator):
    live = start_app()
    _test_routes(live.app)
    window = new_window(live.url)
    page = window.page

    # 404: plain words, not werkzeug's sentence, and a way home that works.
    response = page.goto("/no-such-page")
    assert response.status == 404
    problem = page.get_by_role("alert")
    expect(problem.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(problem).not_to_contain_text("The requested URL was not found on the server")
    expect(problem).to_contain_text(re.compile(r"Reference: [0-9a-f-]{36}"))
    window.screenshot("not-found-viewport", full_page=False)  # the source of docs/not-found.png
    problem.get_by_role("link", name="Go to the home page").click()
    page.wait_for_url(f"{live.url}/")

    # 405: a page that only takes forms, opened as a link.
    response = page.goto("/auth/logout")
    assert response.status == 405 and response.headers["allow"]
    expect(page.get_by_role("heading", name="This page cannot be used that way")).to_be_visible()
    expect(page.get_by_role("alert").get_by_role("link", name="Go to the home page")).to_be_visible()
    window.screenshot("method-not-allowed")

    # 429: how long to wait, in words and in Retry-After; "Try again" is the same page.
    response = page.goto("/test/too-many")
    assert response.status == 429 and response.headers["retry-after"] == "30"
    problem = page.get_by_role("alert")
    expect(problem.get_by_role("heading", name="Too many requests")).to_be_visible()
    expect(problem).to_contain_text("You can try again in 30 seconds.")
    expect(problem.get_by_role("link", name="Try again")).to_have_attribute("href", "/test/too-many")
    window.screenshot("too-many-requests")

    # 500: our fault, said so, with a reference to quote and a way on.
    response = page.goto("/test/broken")
    assert response.status == 500
    problem = page.get_by_role("alert")
    expect(problem.get_by_role("heading", name="Something went wrong on our side")).to_be_visible()
    expect(problem).not_to_contain_text("a bug")
    expect(problem.get_by_role("link", name="Try again")).to_be_visible()
    expect(problem.get_by_role("link", name="Go to the home page")).to_be_visible()
    window.screenshot("server-error")

    # 503: the store is down; try again later, in words and in Retry-After.
    response = page.goto("/test/store-down")
    assert response.status == 503 and response.headers["retry-after"] == "5"
    problem = page.get_by_role("alert")
    expect(problem.get_by_role("heading", name="Temporarily unavailable")).to_be_visible()
    expect(problem).to_contain_text("You can try again in 5 seconds.")
    expect(problem.get_by_role("link", name="Try again")).to_be_visible()
    window.screenshot("unavailable")

    # 403, signed in without the role: the way on is to sign in as someone else.
    sign_in_as_megan(window, live, emulator, "/orders")
    response = page.goto("/admin")
    assert response.status == 403
    problem = page.get_by_role("alert")
    expect(problem).to_contain_text("This page needs the Orders.Admin role.")
    window.screenshot("forbidden")
    problem.get_by_role("button", name="Sign out and sign in as someone else").click()
    expect(page.get_by_role("heading", name="You signed out of your account")).to_be_visible()
    assert_clean_console(window, allow=(ERROR_STATUS,))


def test_the_header_keeps_one_height_signed_in_and_signed_out(start_app, new_window, emulator):
    live = start_app()
    window = new_window(live.url)
    page = window.page
    page.goto("/")
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    signed_out = page.locator("header.site").bounding_box()
    sign_in_as_megan(window, live, emulator, "/orders")
    page.goto("/")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    signed_in = page.locator("header.site").bounding_box()
    assert signed_in["height"] == signed_out["height"], (signed_out, signed_in)
