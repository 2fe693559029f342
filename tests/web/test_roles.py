"""Role-gated pages: ``/admin`` needs the Entra app role ``Orders.Admin`` of the validated ID token."""

from __future__ import annotations

import pytest

from orders_store import OrderStore
from tests.conftest import FOREIGN_TENANT_ID, HOME_TENANT_ID

from .conftest import sign_in

MEGAN = "megan@contoso.example"
ADELE = "adele@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"
LEE_OID = "b0000002-0000-4000-8000-000000000001"
NEEDS_ROLE = "This page needs the Orders.Admin role."


@pytest.fixture
def orders(redis_client):
    store = OrderStore(redis_client)
    store.create(tid=HOME_TENANT_ID, owner_oid=MEGAN_OID, owner_name="Megan Bowen", item="Contoso stapler",
                 quantity=3, note="")
    store.create(tid=FOREIGN_TENANT_ID, owner_oid=LEE_OID, owner_name="Lee Gu", item="Fabrikam widget",
                 quantity=1, note="")


def assert_forbidden_page(response) -> None:
    assert response.status_code == 403
    assert "text/html" in response.headers["Content-Type"]
    assert NEEDS_ROLE in response.text
    assert "Reference:" in response.text and "Traceback" not in response.text


def test_admin_sees_the_tenants_orders(live, new_browser, orders):
    page = sign_in(new_browser(), live, ADELE, "/admin")
    assert "All orders of your organization" in page.text
    assert "Contoso stapler" in page.text and "Megan Bowen" in page.text  # another employee's order
    assert "Fabrikam widget" not in page.text  # never another tenant's


def test_an_employee_gets_the_friendly_403_page(live, new_browser, orders):
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/orders")
    assert "Contoso stapler" in browser.get(f"{live.url}/orders").text  # her own orders, fine
    response = browser.http.get(f"{live.url}/admin", allow_redirects=False)
    assert_forbidden_page(response)
    assert "Contoso stapler" not in response.text
    assert 'href="/admin"' not in browser.get(f"{live.url}/").text  # no link to a page she cannot open


def test_a_role_removed_in_the_directory_is_gone_after_signing_in_again(live, new_browser, control, orders):
    browser = new_browser()
    sign_in(browser, live, ADELE, "/admin")
    control.set_roles(ADELE, [])
    response = browser.get(f"{live.url}/auth/login?next=/admin", as_user=ADELE)
    assert response.url == f"{live.url}/admin"
    assert_forbidden_page(response)


def test_a_role_removed_in_the_directory_is_gone_at_the_next_token_refresh(live, new_browser, control, orders):
    control.settings(access_token_lifetime=60)  # within MSAL's 5-minute margin: every page refreshes
    browser = new_browser()
    sign_in(browser, live, ADELE, "/admin")
    control.set_roles(ADELE, [])
    # This page's refresh brings an access token and an ID token without the role: the API tier
    # no longer treats her as an administrator, and the session's roles follow the new ID token.
    first = browser.http.get(f"{live.url}/admin", allow_redirects=False)
    assert first.status_code == 403 and "Contoso stapler" not in first.text
    assert_forbidden_page(browser.http.get(f"{live.url}/admin", allow_redirects=False))
    assert 'href="/admin"' not in browser.get(f"{live.url}/").text
