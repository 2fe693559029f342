"""A new customer signs up from the app's sign-in link: the external tenant's page (email, display
name, a one-time code), a new account, and back in the app signed in, through the app's own
unmodified MSAL over HTTPS; then the account works like any other customer's, API and
on-behalf-of included, and the next sign-in finds the same account."""

from __future__ import annotations

import html
import re
import uuid
from urllib.parse import urljoin, urlsplit

from localdev.external_tenant import CUSTOMERS_TENANT_ID, external_authority
from tests.emulator.external_tenant import AVERY_OID

from .test_customer_pages import place_order

SIGN_UP_LINK = re.compile(r'<a href="([^"]*/signup\?request_id=[^"]+)"')
FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def sign_up(browser, live, emulator, http, email: str, name: str, next_path: str = "/profile"):
    """From the app's sign-in link through the external tenant's sign-up pages back to ``next_path``."""
    page = browser.get(f"{live.url}/auth/login?next={next_path}")  # the sign-in page: no account picked
    assert page.url.startswith(f"{external_authority(emulator)}/oauth2/v2.0/authorize"), page.url
    link = SIGN_UP_LINK.search(page.text)
    assert link, "the external tenant's sign-in page offers sign-up"
    form = browser.get(urljoin(page.url, html.unescape(link.group(1))))
    request_id = re.search(r'name="request_id" value="([^"]+)"', form.text).group(1)
    sent = browser.post(urljoin(form.url, html.unescape(FORM_ACTION.search(form.text).group(1))),
                        data={"request_id": request_id, "email": email, "name": name})
    assert sent.status_code == 200 and "Verify your email" in sent.text, sent.text[:500]
    outbox = http.get(f"{emulator.url}/_emulator/outbox", params={"to": email}).json()["messages"]
    sign_up_id = re.search(r'name="sign_up_id" value="([^"]+)"', sent.text).group(1)
    # The emulator's form_post page comes back; the Browser submits it to the app as its script would.
    return browser.post(urljoin(sent.url, html.unescape(FORM_ACTION.search(sent.text).group(1))),
                        data={"sign_up_id": sign_up_id, "code": outbox[-1]["code"]})


def test_a_new_customer_signs_up_and_uses_the_app(customers_live, new_browser, emulator, http, redis_client,
                                                  control):
    email = f"robin-{uuid.uuid4().hex[:8]}@example.org"
    browser = new_browser()
    seq = control.last_seq()
    page = sign_up(browser, customers_live, emulator, http, email, "Robin Customer")
    assert page.status_code == 200 and urlsplit(page.url).path == "/profile", (page.status_code, page.url)
    text = " ".join(page.text.split())
    assert "Robin Customer" in text and "Your customer account" in text and CUSTOMERS_TENANT_ID in text
    [signed_up] = [e["signed_up"] for e in control.requests(seq) if e.get("signed_up")]
    assert str(uuid.UUID(signed_up)) == signed_up and signed_up != AVERY_OID
    assert signed_up in text, "the profile names the new account's oid"
    assert 'role="alert"' not in page.text, "the API's on-behalf-of call for the new customer worked"
    assert redis_client.keys("session:*") and redis_client.keys("tokencache:user:*")

    place_order(browser, customers_live, email, "Welcome hamper")
    orders = [key.decode() for key in redis_client.scan_iter(f"orders:{{{CUSTOMERS_TENANT_ID}}}:*")]
    assert orders and any(signed_up in key for key in orders), orders

    # Signed out and back: the sign-in page lists the account made at sign-up, same oid.
    token = browser.csrf_token(f"{customers_live.url}/profile")
    browser.http.post(f"{customers_live.url}/auth/logout", data={"csrf_token": token}, allow_redirects=False,
                      headers={"Referer": f"{customers_live.url}/profile"})
    again = browser.get(f"{customers_live.url}/auth/login?next=/orders", as_user=email)
    assert urlsplit(again.url).path == "/orders" and "Welcome hamper" in again.text
