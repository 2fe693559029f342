"""The web app for customers of an External ID tenant, over HTTPS through the emulator's external
tenant: sign-in, the profile (saying plainly what a customer tenant does not hold), orders per
customer, role-gated pages, sign-out; and customers' orders never mixing with employees'."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from localdev.external_tenant import CUSTOMERS_TENANT_ID, external_authority
from tests.conftest import HOME_TENANT_ID
from tests.emulator.external_tenant import AVERY, AVERY_OID, JORDAN

from .conftest import sign_in

MEGAN = "megan@contoso.example"
ADELE = "adele@contoso.example"
CUSTOMER_NOTE = "A customer tenant has no directory profile beyond that"


def place_order(browser, live, username: str, item: str, quantity: int = 1) -> None:
    """Place an order from the form; an employee's first one goes through a consent round trip first
    (incremental consent), a customer's not (an administrator consented for the external tenant)."""
    form = {"csrf_token": browser.csrf_token(f"{live.url}/orders"), "item": item, "quantity": str(quantity),
            "note": ""}
    placed = browser.post(f"{live.url}/orders", data=form, as_user=username)
    if "kept while you granted access" in placed.text:
        form["csrf_token"] = browser.csrf_token(f"{live.url}/orders")
        placed = browser.post(f"{live.url}/orders", data=form)
    assert placed.status_code == 200 and f"Order placed: {quantity} × {item}" in placed.text, placed.text[:800]


def test_a_customer_signs_in_sees_their_profile_orders_and_signs_out(customers_live, new_browser, redis_client,
                                                                     emulator):
    browser = new_browser()
    page = sign_in(browser, customers_live, AVERY, "/profile")
    # Sign-in went through the external tenant's authority (its own host), not the workforce one.
    authorize = [r.url for r in browser.history if "/oauth2/v2.0/authorize" in r.url]
    assert authorize and all(url.startswith(f"{external_authority(emulator)}/") for url in authorize), authorize
    text = " ".join(page.text.split())
    assert "Avery Brooks" in text and AVERY_OID in text and CUSTOMER_NOTE in text
    assert "Your customer account" in page.text and CUSTOMERS_TENANT_ID in page.text
    assert "Your directory profile" not in page.text
    assert 'role="alert"' not in page.text, "the profile fetched on the customer's behalf is shown"

    place_order(browser, customers_live, AVERY, "Gift card", 2)
    orders = browser.get(f"{customers_live.url}/orders").text
    assert "Gift card" in orders

    token = browser.csrf_token(f"{customers_live.url}/profile")
    response = browser.http.post(f"{customers_live.url}/auth/logout", data={"csrf_token": token},
                                 allow_redirects=False, headers={"Referer": f"{customers_live.url}/profile"})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    # Entra's sign-out of the external tenant: on its authority's host.
    assert f"{location.scheme}://{location.netloc}/{CUSTOMERS_TENANT_ID}/oauth2/v2.0/logout" == (
        f"{external_authority(emulator)}/oauth2/v2.0/logout")
    assert parse_qs(location.query)["post_logout_redirect_uri"] == [f"{customers_live.url}/"]
    assert not redis_client.keys("session:*") and not redis_client.keys("tokencache:user:*")
    again = browser.http.get(f"{customers_live.url}/orders", allow_redirects=False)
    # Signed out: a protected page sends the browser to sign in at the external tenant again.
    assert again.status_code == 302
    assert again.headers["Location"].startswith(f"{external_authority(emulator)}/oauth2/v2.0/authorize?")


def test_a_customer_without_the_role_gets_403_and_one_with_it_sees_only_customers_orders(
        start_live, new_browser):
    employees = start_live(external=False)
    customers = start_live()
    megan = new_browser()
    sign_in(megan, employees, MEGAN, "/orders")
    place_order(megan, employees, MEGAN, "Stapler")
    avery = new_browser()
    sign_in(avery, customers, AVERY, "/orders")
    place_order(avery, customers, AVERY, "Gift card")

    refused = avery.http.get(f"{customers.url}/admin", allow_redirects=False)
    assert refused.status_code == 403 and "This page needs the Orders.Admin role." in refused.text
    assert "Gift card" not in refused.text

    jordan = new_browser()  # a customer an administrator gave Orders.Admin
    admin = sign_in(jordan, customers, JORDAN, "/admin")
    assert "Gift card" in admin.text and "Avery Brooks" in admin.text
    assert "Stapler" not in admin.text, "never an employee's order"
    adele = new_browser()  # the workforce administrator sees her tenant's, never a customer's
    workforce_admin = sign_in(adele, employees, ADELE, "/admin")
    assert "Stapler" in workforce_admin.text and "Gift card" not in workforce_admin.text


def test_customers_orders_are_kept_under_their_own_tenant_in_redis(start_live, new_browser, redis_client):
    employees, customers = start_live(external=False), start_live()
    megan, avery = new_browser(), new_browser()
    sign_in(megan, employees, MEGAN, "/orders")
    place_order(megan, employees, MEGAN, "Stapler")
    sign_in(avery, customers, AVERY, "/orders")
    place_order(avery, customers, AVERY, "Gift card")
    keys = {key.decode() for key in redis_client.scan_iter("orders:*")}
    customer_keys = {key for key in keys if f"{{{CUSTOMERS_TENANT_ID}}}" in key}
    employee_keys = {key for key in keys if f"{{{HOME_TENANT_ID}}}" in key}
    assert customer_keys and employee_keys and customer_keys.isdisjoint(employee_keys)
    assert keys == customer_keys | employee_keys
    assert "Stapler" not in avery.get(f"{customers.url}/orders").text
    assert "Gift card" not in megan.get(f"{employees.url}/orders").text


def test_a_custom_url_domain_authority_reached_through_msals_oidc_authority(start_live, new_browser, emulator):
    """ENTRA_AUTHORITY_KIND=oidc: MSAL Python gets ``oidc_authority`` (discovery at ``{url}/.well-known/...``,
    no /v2.0 of its own), as for an External ID custom URL domain; sign-in, profile and on-behalf-of work."""
    live = start_live(ENTRA_AUTHORITY=f"{external_authority(emulator)}/v2.0", ENTRA_AUTHORITY_KIND="oidc")
    assert live.state.metadata.url == f"{external_authority(emulator)}/v2.0/.well-known/openid-configuration"
    browser = new_browser()
    page = sign_in(browser, live, AVERY, "/profile")
    text = " ".join(page.text.split())
    assert "Avery Brooks" in text and CUSTOMER_NOTE in text and 'role="alert"' not in page.text
