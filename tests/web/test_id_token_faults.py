"""Every bad ID token the emulator can issue is refused by the app: an error page, no session, no tokens."""

from __future__ import annotations

import pytest

from entra_emulator.state import TOKEN_FAULTS
from tests.conftest import HOME_TENANT_ID, WEB_CLIENT_ID

from .conftest import sign_in

MEGAN = "megan@contoso.example"
ID_TOKEN_FAULTS = sorted(set(TOKEN_FAULTS) - {"missing_oid", "missing_tid", "hs256_public_key"}) + [
    "missing_oid", "missing_tid", "hs256_public_key"]


@pytest.fixture
def home_only(start_app):
    # A realistic allow-list: a foreign tenant's (validly signed) token must not get in.
    return start_app(ENTRA_ALLOWED_TENANTS=[HOME_TENANT_ID])


@pytest.mark.parametrize("fault", ID_TOKEN_FAULTS)
def test_a_faulty_id_token_is_refused_without_a_session(home_only, new_browser, control, redis_client, fault):
    control.token_fault(fault, token_type="id_token", client_id=WEB_CLIENT_ID)
    browser = new_browser()
    response = browser.get(f"{home_only.url}/auth/login?next=/profile", as_user=MEGAN)
    assert response.status_code == 400, (response.status_code, response.url)
    assert "Sign-in could not be completed" in response.text
    assert "Reference:" in response.text  # a correlation id to quote
    assert "Traceback" not in response.text
    assert not redis_client.keys("session:*"), "a refused ID token creates no session"
    assert not redis_client.keys("tokencache:*"), "and leaves no tokens behind"
    # Still signed out: the protected page sends the browser to sign in.
    assert browser.http.get(f"{home_only.url}/profile", allow_redirects=False).status_code == 302
    # The fault was one-shot: the next sign-in works.
    page = sign_in(new_browser(), home_only, MEGAN, "/profile")
    assert "Megan Bowen" in page.text


def test_every_fault_of_the_switch_is_covered():
    assert set(ID_TOKEN_FAULTS) == set(TOKEN_FAULTS)


def test_a_rotated_signing_key_is_picked_up_without_a_restart(live, new_browser, control):
    sign_in(new_browser(), live, MEGAN, "/profile")  # keys loaded
    control.rotate_keys(emergency=True)  # ID tokens now carry a kid the app has never seen
    page = sign_in(new_browser(), live, MEGAN, "/profile")
    assert "Megan Bowen" in page.text
