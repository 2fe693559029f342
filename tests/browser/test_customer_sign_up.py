"""What a new customer sees in a real browser (Chromium): the app serving an Entra External ID
tenant (the emulator's external tenant, its authority on ``https://localhost:<port>``), sign-up
with an email, a display name and a one-time code, the profile, an order, the admin page refused,
and sign-out.

``docs/customer-profile.png`` (shown in the README's "Customers: Entra External ID") is this test's
``customer-profile-viewport`` screenshot (1200 × 900), optimised with
``pngquant --strip --quality 65-85`` then ``optipng -o5``.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from localdev.external_tenant import CUSTOMERS_TENANT_ID, external_authority
from tests.external.conftest import start_live  # noqa: F401  (the app for the external tenant, over HTTPS)

from .test_journeys import ADMIN_403, assert_clean_console


@pytest.mark.slow
def test_a_new_customer_signs_up_orders_is_refused_admin_and_signs_out(start_live, new_window, emulator, http):
    live = start_live()
    authority = external_authority(emulator)
    email = f"robin-{uuid.uuid4().hex[:8]}@example.org"
    window = new_window(live.url)
    page = window.page

    page.goto("/")
    expect(page.get_by_role("heading", name="Orders for our customers")).to_be_visible()
    expect(page.get_by_text("Secured with Microsoft Entra External ID.")).to_be_visible()
    window.screenshot("landing")
    page.get_by_role("link", name="Sign in or create an account").click()

    # -- The external tenant's own sign-in page, on its authority's host: no account yet, so create one.
    page.wait_for_url(f"{authority}/oauth2/v2.0/authorize**")
    window.screenshot("sign-in-page")
    page.get_by_role("link", name="Create one").click()
    expect(page.get_by_role("heading", name="Create account")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Display name").fill("Robin Customer")
    window.screenshot("sign-up-form")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Verify your email")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()
    # The one-time code went to the customer's mailbox: the emulator's outbox stands in for it.
    code = http.get(f"{emulator.url}/_emulator/outbox", params={"to": email}).json()["messages"][-1]["code"]
    page.get_by_label("Code").fill(code)
    window.screenshot("verify-email")
    page.get_by_role("button", name="Create account").click()

    # -- Back in the app, signed in as the new account.
    page.wait_for_url(f"{live.url}/")
    expect(page.get_by_role("heading", name="Welcome back, Robin Customer")).to_be_visible()
    expect(page.get_by_text(f"You are signed in as {email}")).to_be_visible()
    window.screenshot("signed-in")

    page.get_by_role("link", name="What the app knows about me").click()
    page.wait_for_url(f"{live.url}/profile")
    claims = page.locator("table.claims")
    expect(claims.locator("tr", has=page.locator("code", has_text="tid"))).to_contain_text(CUSTOMERS_TENANT_ID)
    expect(claims.locator("tr", has=page.locator("code", has_text="iss"))).to_contain_text(
        f"https://{CUSTOMERS_TENANT_ID}.localhost:{emulator.port}/{CUSTOMERS_TENANT_ID}/v2.0")
    account = page.locator("section", has=page.get_by_role("heading", name="Your customer account"))
    expect(account).to_contain_text("Robin Customer")
    expect(account).to_contain_text("no job title")
    expect(account.get_by_role("alert")).to_have_count(0)
    window.screenshot("customer-profile")
    window.screenshot("customer-profile-viewport", full_page=False)  # the source of docs/customer-profile.png

    # -- An order: an administrator consented for the external tenant, so no consent page on the way.
    page.get_by_role("link", name="My orders").click()
    page.wait_for_url(f"{live.url}/orders")
    page.get_by_label("Item").fill("Welcome hamper")
    page.get_by_label("Quantity").fill("1")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(f"{live.url}/orders")
    expect(page.get_by_text("Order placed: 1 × Welcome hamper")).to_be_visible()
    window.screenshot("order-placed")

    # -- A customer without Orders.Admin: the admin page is refused, with the app's own 403 page.
    response = page.goto("/admin")
    assert response.status == 403
    expect(page.get_by_text("This page needs the Orders.Admin role.")).to_be_visible()
    window.screenshot("admin-refused")

    # -- Sign-out ends the external tenant's session too, on its authority's host, and comes back.
    page.goto("/")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You signed out of your account")).to_be_visible()
    assert page.url.startswith(f"{authority}/oauth2/v2.0/logout")
    assert parse_qs(urlsplit(page.url).query)["post_logout_redirect_uri"] == [f"{live.url}/"]
    page.wait_for_url(f"{live.url}/", timeout=10_000)
    expect(page.get_by_role("link", name="Sign in or create an account")).to_be_visible()
    assert re.search(r"/auth/login", page.content())
    assert_clean_console(window, allow=(ADMIN_403,))
