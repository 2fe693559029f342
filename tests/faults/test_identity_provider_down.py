"""The identity provider down (Entra's endpoints answering 503 with ``Retry-After: 1``).

Signed-in users keep working on what is cached: their access tokens (Redis), the on-behalf-of
token behind /profile (Redis), the signing keys and metadata (the worker); not one request reaches
the identity provider. A new sign-in gets a clear 503 page, not a 500, and works again as soon as
the provider does; a token refresh that fails is a 503 too, and the refresh token survives it.
Nothing is restarted.

The downstream API (Microsoft Graph, another service) stays up here: its outage is
tests/web/test_chain.py's ``test_the_downstream_down_gives_503_on_the_panel_while_the_page_renders``.
The other faults of the list are proven where the code lives, not repeated here:
JWKS down with warm keys, tests/api/test_signing_keys.py
``test_warm_keys_keep_validating_while_the_identity_provider_is_down`` (and a cold worker's 503,
``test_a_cold_worker_answers_503_when_the_keys_cannot_be_loaded``); a rotated signing key without a
restart, ``test_a_token_from_a_freshly_rotated_key_passes_right_after_warm_up`` there and
tests/web/test_id_token_faults.py ``test_a_rotated_signing_key_is_picked_up_without_a_restart``.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit


from entra_auth.http import build_http_session
from tests.web.conftest import sign_in

from .conftest import MEGAN

# Entra's endpoints, as the emulator names them; "graph" (the downstream) is another service.
IDENTITY_ENDPOINTS = ("discovery", "jwks", "authorize", "token", "logout", "msi")
RETRY_AFTER = 1  # what the emulator's 503s carry
OUTAGE_SECONDS = 60  # cleared by each test; the bound only matters if a test dies half-way


def identity_provider_down(control, endpoints=IDENTITY_ENDPOINTS) -> None:
    for endpoint in endpoints:
        control.fault(endpoint, mode="fail", status=503, seconds=OUTAGE_SECONDS)


def identity_provider_back(control) -> None:
    assert control.http.delete(f"{control.base}/faults").status_code == 204


def identity_requests(control, since: int) -> list[dict]:
    return [e for e in control.requests(since) if e["endpoint"] in IDENTITY_ENDPOINTS]


def assert_sign_in_unavailable_page(response) -> None:
    where = f"{response.request.method} {urlsplit(response.url).path}"
    assert response.status_code == 503, (where, response.status_code, response.text[:400])
    assert "The sign-in service is unavailable" in response.text, where
    assert response.headers.get("Retry-After", "").isdigit(), where
    assert "Traceback" not in response.text and "MsalServiceError" not in response.text, where


def test_signed_in_users_keep_working_on_cached_tokens_while_the_identity_provider_is_down(
        app_instance, signed_in, control, emulator):
    browser, bearer = signed_in
    mark = control.last_seq()
    identity_provider_down(control)
    try:
        orders = browser.http.get(f"{app_instance.url}/orders", allow_redirects=False)
        assert orders.status_code == 200 and "Persistent chair" in orders.text
        profile = browser.http.get(f"{app_instance.url}/profile", allow_redirects=False)
        assert profile.status_code == 200 and "Megan Bowen" in profile.text
        assert "Marketing Manager" in profile.text, "the downstream panel, through the cached on-behalf-of token"
        admin = browser.http.get(f"{app_instance.url}/admin", allow_redirects=False)
        assert admin.status_code == 403, "role checks need nothing from the identity provider"
        with build_http_session(str(emulator.ca_path)) as api:
            response = api.get(f"{app_instance.url}/api/orders", headers=bearer)
        assert response.status_code == 200, "bearer tokens validate on the warm signing keys"
        assert identity_requests(control, mark) == [], "everything came from the caches"
    finally:
        identity_provider_back(control)


def test_a_new_sign_in_during_the_outage_is_a_503_page_and_the_next_one_works(app_instance, new_browser, control):
    browser = new_browser()
    sign_in(browser, app_instance, MEGAN, "/orders")  # the worker has met the identity provider
    browser = new_browser()
    identity_provider_down(control, ["token"])  # the account page still works: the code comes back to us
    try:
        page = browser.get(f"{app_instance.url}/auth/login?next=/orders", as_user=MEGAN)
        refused_at = time.monotonic()
        assert urlsplit(page.url).path == "/auth/callback"
        assert_sign_in_unavailable_page(page)
        assert browser.cookie("__Host-session") is None, "no session for a sign-in that did not finish"
        page = browser.http.get(f"{app_instance.url}/orders", allow_redirects=False)
        assert page.status_code == 302, "still signed out, sent to sign in again"
    finally:
        identity_provider_back(control)
    # After a 5xx, MSAL answers every code redemption of this client and scopes (whoever's code: its
    # throttle key reads the code only when the request body is not a dict) with the same error
    # until Retry-After (1 s here) has passed; then sign-in works again, with no restart.
    time.sleep(max(0.0, refused_at + RETRY_AFTER + 0.1 - time.monotonic()))
    page = sign_in(browser, app_instance, MEGAN, "/orders")
    assert "Megan Bowen" in page.text


def test_a_refresh_during_the_outage_is_a_503_and_the_refresh_token_survives_it(app_instance, new_browser, control):
    control.settings(access_token_lifetime=60)  # MSAL refreshes tokens that expire within 5 minutes: every page
    browser = new_browser()
    sign_in(browser, app_instance, MEGAN, "/orders")
    mark = control.last_seq()
    identity_provider_down(control)
    try:
        page = browser.http.get(f"{app_instance.url}/orders", allow_redirects=False)
        assert_sign_in_unavailable_page(page)
        assert [e["status"] for e in identity_requests(control, mark)] == [503], "one refresh attempt, refused"
    finally:
        identity_provider_back(control)
    # MSAL holds back the same refresh for Retry-After (1 s) after a 503, per worker.
    deadline = time.monotonic() + 10
    while True:
        page = browser.http.get(f"{app_instance.url}/orders", allow_redirects=False)
        if page.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert page.status_code == 200 and "Megan Bowen" in page.text, (page.status_code, page.text[:300])
    grants = [(e.get("grant_type"), e["status"]) for e in identity_requests(control, mark)]
    assert grants == [("refresh_token", 503), ("refresh_token", 200)], "no new sign-in: the refresh token was kept"


def test_a_worker_that_has_not_met_the_identity_provider_answers_503_during_the_outage(
        start_app, new_browser, control):
    first = start_app()
    browser = new_browser()
    sign_in(browser, first, MEGAN, "/orders")
    identity_provider_down(control)
    try:
        fresh = start_app()  # a new worker (scale-out, a recycled worker) during the outage
        assert_sign_in_unavailable_page(new_browser().http.get(f"{fresh.url}/auth/login?next=/orders",
                                                               allow_redirects=False))
        assert_sign_in_unavailable_page(new_browser().http.get(f"{fresh.url}/orders", allow_redirects=False))
        page = browser.http.get(f"{fresh.url}/orders", allow_redirects=False)
        assert page.status_code in (200, 503), (page.status_code, page.text[:300])
        if page.status_code == 503:
            assert_sign_in_unavailable_page(page)
    finally:
        identity_provider_back(control)


def test_an_on_behalf_of_token_cached_by_one_instance_serves_profile_on_another_during_the_outage(
        start_app, new_browser, control):
    first, second = start_app(), start_app()
    browser = new_browser()
    page = sign_in(browser, first, MEGAN, "/profile")
    assert "Marketing Manager" in page.text  # exchanged and cached in Redis by the first instance
    assert browser.http.get(f"{second.url}/orders").status_code == 200  # the second has met the provider
    mark = control.last_seq()
    identity_provider_down(control, ["token"])
    try:
        page = browser.http.get(f"{second.url}/profile", allow_redirects=False)
        assert page.status_code == 200 and "Megan Bowen" in page.text
        assert "Marketing Manager" in page.text, "the on-behalf-of token cached in Redis"
        # No exchange: at most the tenant's discovery document, which this worker had not needed before.
        assert [e["endpoint"] for e in identity_requests(control, mark)] in ([], ["discovery"])
    finally:
        identity_provider_back(control)
