"""Customers of the external tenant sign in through unmodified MSAL over HTTPS, and their tokens carry
what External ID issues: its issuer, no upn, idp only for another provider, email only when asked."""

from __future__ import annotations

import jwt
import msal
import pytest

from tests.conftest import GRAPH_USER_READ, HOME_TENANT_ID, WEB_CLIENT_ID, REDIRECT_URI, confidential_app

from .external_tenant import (
    AVERY,
    AVERY_OID,
    CUSTOMERS_API_CLIENT_ID,
    CUSTOMERS_DAEMON_CLIENT_ID,
    CUSTOMERS_SCOPE_READ,
    CUSTOMERS_TENANT_ID,
    CUSTOMERS_WEB_CLIENT_ID,
    JORDAN,
    customer_sign_in,
    customers_app,
    external_authority,
    external_issuer,
)
from .helpers import sent_nonce, unverified


@pytest.mark.parametrize("oidc", [False, True], ids=["entra-authority", "oidc-authority"])
def test_an_existing_customer_signs_in(emulator, http, browser, oidc):
    _, flow, result = customer_sign_in(emulator, http, browser, AVERY, [CUSTOMERS_SCOPE_READ], oidc=oidc)
    assert "access_token" in result, result
    assert flow["auth_uri"].startswith(f"{external_authority(emulator)}/oauth2/v2.0/authorize?")
    id_claims = result["id_token_claims"]
    assert id_claims["iss"] == external_issuer(emulator)
    assert id_claims["tid"] == CUSTOMERS_TENANT_ID and id_claims["oid"] == AVERY_OID
    assert id_claims["aud"] == CUSTOMERS_WEB_CLIENT_ID and id_claims["ver"] == "2.0"
    assert id_claims["nonce"] == sent_nonce(flow)
    assert id_claims["preferred_username"] == AVERY and id_claims["name"] == "Avery Brooks"
    assert id_claims["sub"] != AVERY_OID  # pairwise, as in any Entra tenant
    for absent in ("upn", "unique_name", "idp", "email"):
        assert absent not in id_claims, absent
    access = unverified(result["access_token"])
    assert access["iss"] == external_issuer(emulator) and access["aud"] == CUSTOMERS_API_CLIENT_ID
    assert access["scp"] == "Orders.Read" and access["azp"] == CUSTOMERS_WEB_CLIENT_ID
    assert "upn" not in access and "roles" not in access


def test_email_only_when_the_email_scope_asks_for_it(emulator, http, browser):
    _, _, result = customer_sign_in(emulator, http, browser, AVERY, [CUSTOMERS_SCOPE_READ, "email"])
    assert result["id_token_claims"]["email"] == AVERY


def test_a_customer_of_another_provider_carries_idp_and_roles(emulator, http, browser):
    _, _, result = customer_sign_in(emulator, http, browser, JORDAN, [CUSTOMERS_SCOPE_READ])
    assert result["id_token_claims"]["idp"] == "google.com"
    assert result["id_token_claims"]["roles"] == ["Orders.Admin"]
    assert unverified(result["access_token"])["idp"] == "google.com"


def test_customers_are_not_offered_to_workforce_apps(emulator, http, browser):
    app = confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations")
    flow = app.initiate_auth_code_flow([], redirect_uri=REDIRECT_URI, response_mode="form_post")
    page = browser.get(flow["auth_uri"])
    assert page.status_code == 200
    assert "megan@contoso.example" in page.text and AVERY not in page.text and JORDAN not in page.text


def test_a_workforce_app_is_not_in_the_external_tenant(emulator, http, browser):
    app = customers_app(emulator, http)
    flow = app.initiate_auth_code_flow([], redirect_uri=REDIRECT_URI, response_mode="form_post")
    page = browser.get(flow["auth_uri"].replace(CUSTOMERS_WEB_CLIENT_ID, WEB_CLIENT_ID))
    assert page.status_code == 400
    assert "AADSTS700016" in page.text


def test_on_behalf_of_a_customer_and_graph_me(emulator, http, browser):
    _, _, result = customer_sign_in(emulator, http, browser, AVERY, [CUSTOMERS_SCOPE_READ])
    api = customers_app(emulator, http, CUSTOMERS_API_CLIENT_ID)
    obo = api.acquire_token_on_behalf_of(result["access_token"], [GRAPH_USER_READ])
    assert "access_token" in obo, obo
    graph_claims = unverified(obo["access_token"])
    assert graph_claims["tid"] == CUSTOMERS_TENANT_ID and "upn" not in graph_claims
    me = http.get(f"{emulator.url}/v1.0/me", headers={"Authorization": f"Bearer {obo['access_token']}"})
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["id"] == AVERY_OID and body["displayName"] == "Avery Brooks" and body["mail"] == AVERY
    assert body["jobTitle"] is None and body["givenName"] is None  # nothing the customer did not enter
    assert body["userPrincipalName"] != AVERY


def test_a_customer_token_is_refused_by_the_workforce_keys(emulator, http, browser):
    _, _, result = customer_sign_in(emulator, http, browser, AVERY, [CUSTOMERS_SCOPE_READ])
    workforce_jwks = http.get(f"{emulator.url}/{HOME_TENANT_ID}/discovery/v2.0/keys").json()["keys"]
    kid = jwt.get_unverified_header(result["access_token"])["kid"]
    assert kid not in {k["kid"] for k in workforce_jwks}
    for k in workforce_jwks:  # not even a key with another kid verifies it
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(result["access_token"], jwt.PyJWK(k).key, algorithms=["RS256"],
                       options={"verify_aud": False, "verify_iss": False})


def test_a_customer_refreshes_and_signs_out_on_the_external_host(emulator, http, browser, control):
    app, _, result = customer_sign_in(emulator, http, browser, AVERY, [CUSTOMERS_SCOPE_READ])
    account = app.get_accounts()[0]
    assert account["environment"] == "localhost"  # MSAL keys its cache by the authority's host
    refreshed = app.acquire_token_silent([CUSTOMERS_SCOPE_READ], account=account, force_refresh=True)
    assert refreshed and "access_token" in refreshed, refreshed
    assert unverified(refreshed["access_token"])["iss"] == external_issuer(emulator)
    assert any(e.get("grant_type") == "refresh_token" and e["status"] == 200 for e in control.requests())

    sid = result["id_token_claims"]["sid"]
    logout = browser.get(f"{external_authority(emulator)}/oauth2/v2.0/logout",
                         params={"post_logout_redirect_uri": REDIRECT_URI.rsplit("/auth/", 1)[0] + "/"})
    assert logout.status_code == 200
    assert f"/auth/logout/frontchannel?sid={sid}" in logout.text
    # Signed out: a silent sign-in now needs the customer again.
    again = customers_app(emulator, http)
    flow = again.initiate_auth_code_flow([CUSTOMERS_SCOPE_READ], redirect_uri=REDIRECT_URI,
                                         response_mode="form_post", prompt="none")
    page = browser.get(flow["auth_uri"])
    assert "login_required" in page.text


def test_the_customers_apps_authenticate_with_their_certificates(emulator, http, browser, certificate_pem):
    """As in the workforce tenants, no secret is needed even locally: each app has a certificate."""

    def with_certificate(client_id: str, name: str) -> msal.ConfidentialClientApplication:
        pem = certificate_pem(name)
        return msal.ConfidentialClientApplication(
            client_id, client_credential={"private_key": pem, "public_certificate": pem},
            authority=external_authority(emulator), instance_discovery=False, http_client=http)

    daemon = with_certificate(CUSTOMERS_DAEMON_CLIENT_ID, "customers-daemon")
    assert "access_token" in daemon.acquire_token_for_client([f"api://{CUSTOMERS_API_CLIENT_ID}/.default"])
    _, _, result = customer_sign_in(emulator, http, browser, AVERY, [CUSTOMERS_SCOPE_READ])
    api = with_certificate(CUSTOMERS_API_CLIENT_ID, "customers-orders-api")
    obo = api.acquire_token_on_behalf_of(result["access_token"], [GRAPH_USER_READ])
    assert "access_token" in obo, obo
    assert unverified(obo["access_token"])["appidacr"] == "2"  # a certificate, not a secret
