"""Self-service sign-up in the external tenant: a new customer enters an email and a display name,
proves the email with a one-time passcode, gets a new account (a new oid) and lands back in the app
signed in, through unmodified MSAL over HTTPS."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import REDIRECT_URI, authorization_response

from .external_tenant import (
    AVERY,
    CUSTOMERS_SCOPE_READ,
    CUSTOMERS_TENANT_ID,
    customers_app,
    external_issuer,
)
from .helpers import unverified

SIGN_UP_LINK = re.compile(r'<a href="([^"]*/signup\?request_id=[^"]+)"')


def _start(emulator, http, browser, scopes=(CUSTOMERS_SCOPE_READ,)):
    """MSAL starts a sign-in; the browser opens the page and follows "Create one"."""
    app = customers_app(emulator, http)
    flow = app.initiate_auth_code_flow(list(scopes), redirect_uri=REDIRECT_URI, response_mode="form_post")
    page = browser.get(flow["auth_uri"])
    assert page.status_code == 200, page.text
    link = SIGN_UP_LINK.search(page.text)
    assert link, "the sign-in page offers no sign-up"
    base = emulator.emulator.external.authority_url
    form = browser.get(base + link.group(1).replace("&amp;", "&"))
    assert form.status_code == 200 and "Create account" in form.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', form.text).group(1)
    return app, flow, f"{base}/{CUSTOMERS_TENANT_ID}", request_id


def _send_code(browser, where, request_id, email, name="New Customer"):
    return browser.post(f"{where}/signup", data={"request_id": request_id, "email": email, "name": name})


def _code_sent_to(emulator, http, email: str) -> str:
    resp = http.get(f"{emulator.url}/_emulator/outbox", params={"to": email})
    assert resp.status_code == 200
    messages = resp.json()["messages"]
    assert messages, f"no code was sent to {email}"
    return messages[-1]["code"]


def _sign_up_id(page) -> str:
    return re.search(r'name="sign_up_id" value="([^"]+)"', page.text).group(1)


def test_a_new_customer_signs_up_and_lands_signed_in(emulator, http, browser, control):
    email = f"new-{uuid.uuid4().hex[:8]}@example.org"
    app, flow, where, request_id = _start(emulator, http, browser, scopes=(CUSTOMERS_SCOPE_READ, "email"))
    sent = _send_code(browser, where, request_id, email, "  Robin   Customer ")
    assert sent.status_code == 200 and "Verify your email" in sent.text and email in sent.text
    code = _code_sent_to(emulator, http, email)
    assert re.fullmatch(r"\d{8}", code)
    assert code not in sent.text  # the page never shows the code: only the outbox has it
    done = browser.post(f"{where}/signup/verify", data={"sign_up_id": _sign_up_id(sent), "code": code},
                        allow_redirects=False)
    assert done.status_code == 200, done.text
    response = authorization_response(done)
    assert response["state"] == flow["state"] and "code" in response
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert "access_token" in result, result
    claims = result["id_token_claims"]
    assert claims["iss"] == external_issuer(emulator) and claims["tid"] == CUSTOMERS_TENANT_ID
    assert claims["name"] == "Robin Customer" and claims["preferred_username"] == email
    assert claims["email"] == email  # collected at sign-up, and the email scope asked for it
    assert str(uuid.UUID(claims["oid"])) == claims["oid"]
    assert "idp" not in claims and "upn" not in claims and "roles" not in claims
    assert unverified(result["access_token"])["oid"] == claims["oid"]
    assert any(e.get("signed_up") == claims["oid"] for e in control.requests())

    # The account exists from now on: the next sign-in picks it, SSO included, with the same oid.
    again = customers_app(emulator, http)
    flow2 = again.initiate_auth_code_flow([CUSTOMERS_SCOPE_READ], redirect_uri=REDIRECT_URI, response_mode="form_post")
    result2 = again.acquire_token_by_auth_code_flow(flow2, authorization_response(browser.get(flow2["auth_uri"])))
    assert result2["id_token_claims"]["oid"] == claims["oid"]


def test_two_customers_get_two_accounts(emulator, http, browser):
    oids = set()
    for _ in range(2):
        email = f"twin-{uuid.uuid4().hex[:8]}@example.org"
        app, flow, where, request_id = _start(emulator, http, browser)
        sent = _send_code(browser, where, request_id, email)
        done = browser.post(f"{where}/signup/verify",
                            data={"sign_up_id": _sign_up_id(sent), "code": _code_sent_to(emulator, http, email)})
        oids.add(app.acquire_token_by_auth_code_flow(flow, authorization_response(done))["id_token_claims"]["oid"])
        browser.cookies.clear()
    assert len(oids) == 2


@pytest.mark.parametrize(
    ("email", "name", "message"),
    [
        ("not-an-email", "Someone", "valid email"),
        ("a@b", "Someone", "valid email"),
        ("<script>@example.org", "Someone", "valid email"),
        ("x" * 250 + "@example.org", "Someone", "valid email"),
        ("ok@example.org", "   ", "display name"),
        ("ok@example.org", "n" * 300, "display name"),
        ("ok@example.org", "Bell\x07 Ringer", "display name"),
        (AVERY, "Avery Again", "already exists"),
    ],
)
def test_bad_sign_up_input_is_a_clear_400(emulator, http, browser, email, name, message):
    _, _, where, request_id = _start(emulator, http, browser)
    resp = _send_code(browser, where, request_id, email, name)
    assert resp.status_code == 400
    assert message in resp.text
    assert http.get(f"{emulator.url}/_emulator/outbox", params={"to": email}).json()["messages"] == []


def test_a_wrong_code_is_refused_and_three_end_the_sign_up(emulator, http, browser):
    email = f"wrong-{uuid.uuid4().hex[:8]}@example.org"
    _, _, where, request_id = _start(emulator, http, browser)
    sent = _send_code(browser, where, request_id, email)
    code = _code_sent_to(emulator, http, email)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    sign_up_id = _sign_up_id(sent)
    for _ in range(2):
        resp = browser.post(f"{where}/signup/verify", data={"sign_up_id": sign_up_id, "code": wrong})
        assert resp.status_code == 400 and "code is wrong" in resp.text
    third = browser.post(f"{where}/signup/verify", data={"sign_up_id": sign_up_id, "code": wrong})
    assert third.status_code == 400 and "Start the sign-up again" in third.text
    late = browser.post(f"{where}/signup/verify", data={"sign_up_id": sign_up_id, "code": code})
    assert late.status_code == 400  # even the right code: that sign-up is over
    assert emulator.emulator.manifest.user(email) is None


def test_sign_up_only_in_an_external_tenant_and_only_for_a_live_request(emulator, http, browser):
    from tests.conftest import HOME_TENANT_ID

    _, _, where, request_id = _start(emulator, http, browser)
    workforce = browser.get(f"{emulator.url}/{HOME_TENANT_ID}/signup", params={"request_id": request_id})
    assert workforce.status_code == 400
    stale = browser.get(f"{where}/signup", params={"request_id": "nope"})
    assert stale.status_code == 400 and "expired" in stale.text
    garbage = browser.post(f"{where}/signup/verify", data={"sign_up_id": "nope", "code": "x"})
    assert garbage.status_code == 400
