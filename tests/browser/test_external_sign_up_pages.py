"""The external tenant's sign-up pages in Chromium: the emulator's own pages only (the app's customer
journey is the app's test). Chromium reaches the external authority at https://localhost:<port>,
trusting the emulator's CA; the app's callback is caught before it leaves the browser."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl

from tests.conftest import REDIRECT_URI
from tests.emulator.external_tenant import CUSTOMERS_SCOPE_READ, CUSTOMERS_TENANT_ID, customers_app, external_issuer


def test_a_new_customer_signs_up_in_chromium(emulator, http, new_window):
    window = new_window(emulator.emulator.external.authority_url)
    page = window.page
    app = customers_app(emulator, http)
    flow = app.initiate_auth_code_flow([CUSTOMERS_SCOPE_READ, "email"], redirect_uri=REDIRECT_URI,
                                       response_mode="form_post")
    posted: list[str] = []

    def catch_callback(route):  # the app is not running here: keep what the emulator posted to it
        posted.append(route.request.post_data or "")
        route.fulfill(status=200, content_type="text/html", body="<p>callback received</p>")

    page.route(f"{REDIRECT_URI}*", catch_callback)
    page.goto(flow["auth_uri"])
    page.get_by_role("link", name="Create one").click()
    email = f"chromium-{uuid.uuid4().hex[:8]}@example.org"
    page.get_by_label("Email").fill(email)
    page.get_by_label("Display name").fill("Sam Chromium")
    window.screenshot("sign-up")
    page.get_by_role("button", name="Next").click()
    page.get_by_text("Verify your email").wait_for()
    assert email in page.content()
    code = http.get(f"{emulator.url}/_emulator/outbox", params={"to": email}).json()["messages"][-1]["code"]
    page.get_by_label("Code").fill(code)
    window.screenshot("code")
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("callback received").wait_for()

    assert len(posted) == 1
    result = app.acquire_token_by_auth_code_flow(flow, dict(parse_qsl(posted[0])))
    assert "access_token" in result, result
    claims = result["id_token_claims"]
    assert claims["iss"] == external_issuer(emulator) and claims["tid"] == CUSTOMERS_TENANT_ID
    assert claims["name"] == "Sam Chromium" and claims["email"] == email
    assert not window.app_console_errors()
