"""The API tier with an External ID tenant: customers' tokens from unmodified MSAL over HTTPS are
accepted by the app configured for that tenant, and refused everywhere they do not belong.

External ID's issuer (``https://<tid>.ciamlogin.com/<tid>/v2.0``; the emulator's
``https://<tid>.localhost:<port>/<tid>/v2.0``) is not on the authority's host: the app takes it
from the authority's discovery document, checked against the authority kind's shape, and the
keys from that same document's ``jwks_uri``.
"""

from __future__ import annotations

import pytest

from app import create_app
from localdev.external_tenant import CUSTOMERS_API_CLIENT_ID, CUSTOMERS_TENANT_ID, external_authority
from tests.api.helpers import assert_invalid_token, assert_unavailable, bearer, claims_of, header_of, sign_rs256
from tests.conftest import API_CLIENT_ID, API_SCOPE_READ, HOME_TENANT_ID, app_settings, sign_in_with_msal
from tests.emulator.external_tenant import (
    AVERY,
    AVERY_OID,
    CUSTOMERS_DAEMON_CLIENT_ID,
    CUSTOMERS_SCOPE_READ,
    customer_sign_in,
    customers_app,
)

CUSTOMERS_SCOPE_WRITE = f"api://{CUSTOMERS_API_CLIENT_ID}/Orders.Write"


@pytest.fixture
def customer_token(emulator, http, browser) -> str:
    _, _, result = customer_sign_in(emulator, http, browser, AVERY, [CUSTOMERS_SCOPE_READ, CUSTOMERS_SCOPE_WRITE])
    assert "access_token" in result, result
    return result["access_token"]


@pytest.fixture
def employee_token(emulator, http, browser) -> str:
    _, _, result = sign_in_with_msal(emulator, http, browser, "megan@contoso.example", [API_SCOPE_READ])
    assert "access_token" in result, result
    return result["access_token"]


@pytest.fixture
def customers_client(make_customers_app):
    return make_customers_app().test_client()


def resigned(token: str, key, **claim_changes) -> str:
    """``token``'s claims (changed as asked) signed by ``key`` (an emulator signing key) under its kid."""
    claims = {**claims_of(token), **claim_changes}
    return sign_rs256({**header_of(token), "kid": key.kid}, claims, key.private_key)


# -- accepted where it belongs --------------------------------------------------------------------------

def test_a_customers_token_places_and_reads_their_orders(customers_client, customer_token):
    placed = customers_client.post("/api/orders", headers=bearer(customer_token),
                                   json={"item": "Gift card", "quantity": 2, "note": ""})
    assert placed.status_code == 201, placed.get_json()
    assert placed.get_json()["tid"] == CUSTOMERS_TENANT_ID and placed.get_json()["owner_oid"] == AVERY_OID
    listed = customers_client.get("/api/orders", headers=bearer(customer_token))
    assert listed.status_code == 200
    assert [o["item"] for o in listed.get_json()["orders"]] == ["Gift card"]


def test_api_me_answers_on_behalf_of_a_customer(customers_client, customer_token, control):
    seq = control.last_seq()
    response = customers_client.get("/api/me", headers=bearer(customer_token))
    assert response.status_code == 200, response.get_json()
    me = response.get_json()
    assert me["id"] == AVERY_OID and me["displayName"] == "Avery Brooks"
    assert me.get("jobTitle") is None  # a customer entered none
    # The on-behalf-of exchange went to the external tenant's token endpoint.
    obo = [r for r in control.requests(seq) if r.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert obo and all(r["path"] == f"/{CUSTOMERS_TENANT_ID}/oauth2/v2.0/token" for r in obo), obo


def test_the_external_tenants_daemon_reads_every_customers_order_with_its_app_role(customers_client, customer_token,
                                                                                   emulator, http):
    assert customers_client.post("/api/orders", headers=bearer(customer_token),
                                 json={"item": "Gift card", "quantity": 1, "note": ""}).status_code == 201
    daemon = customers_app(emulator, http, CUSTOMERS_DAEMON_CLIENT_ID)  # client credentials: v2.0 apps only
    result = daemon.acquire_token_for_client([f"api://{CUSTOMERS_API_CLIENT_ID}/.default"])
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["roles"] == ["Orders.Read.All"]
    listed = customers_client.get("/api/orders", headers=bearer(result["access_token"]))
    assert listed.status_code == 200, listed.get_json()
    assert [(o["owner_oid"], o["item"]) for o in listed.get_json()["orders"]] == [(AVERY_OID, "Gift card")]


# -- refused where it does not ----------------------------------------------------------------------------

@pytest.fixture
def workforce_client_trusting_the_customers_tenant(emulator, redis_server, redis_client):
    """A workforce-configured app that would accept the customers' tenant and audience: only the
    authority kind (its issuer and its keys) stands between it and a customer's token."""
    return create_app(app_settings(emulator, redis_server, ENTRA_ALLOWED_TENANTS=[HOME_TENANT_ID, CUSTOMERS_TENANT_ID],
                                   API_CLIENT_ID=CUSTOMERS_API_CLIENT_ID)).test_client()


def test_an_external_id_token_is_refused_by_a_workforce_configured_app(
        workforce_client_trusting_the_customers_tenant, customer_token, emulator):
    client = workforce_client_trusting_the_customers_tenant
    # Genuine: signed by the external tenant's key, which the workforce discovery does not publish.
    assert_invalid_token(client.get("/api/orders", headers=bearer(customer_token)), "unknown signing key",
                         customer_token)
    # Even signed with the workforce key, the External ID issuer is not a workforce issuer.
    forged = resigned(customer_token, emulator.emulator.keys.active)
    assert_invalid_token(client.get("/api/orders", headers=bearer(forged)), "wrong issuer", forged)


def test_a_workforce_token_is_refused_by_the_external_id_configured_app(make_customers_app, employee_token, emulator):
    client = make_customers_app(ENTRA_ALLOWED_TENANTS=[CUSTOMERS_TENANT_ID, HOME_TENANT_ID],
                                API_CLIENT_ID=API_CLIENT_ID).test_client()
    assert_invalid_token(client.get("/api/orders", headers=bearer(employee_token)), "unknown signing key",
                         employee_token)
    forged = resigned(employee_token, emulator.emulator.external_keys.active)
    assert_invalid_token(client.get("/api/orders", headers=bearer(forged)), "wrong issuer", forged)


def wrong_hosts(emulator) -> list[str]:
    tid, port = CUSTOMERS_TENANT_ID, emulator.port
    return [
        f"https://127.0.0.1:{port}/{tid}/v2.0",  # the emulator's workforce host: the right path on the wrong host
        f"https://localhost:{port}/{tid}/v2.0",  # the authority's own host (a composed, workforce-style issuer)
        f"https://{tid}.ciamlogin.com/{tid}/v2.0",  # Entra's real shape, but not this authority's discovery
        f"https://{tid}.evil.localhost:{port}/{tid}/v2.0",
        f"https://{HOME_TENANT_ID}.localhost:{port}/{tid}/v2.0",  # another tenant's host
        f"https://{tid}.localhost:{port + 1}/{tid}/v2.0",
    ]


def test_an_issuer_with_the_right_path_on_the_wrong_host_is_refused(customers_client, customer_token, emulator):
    assert customers_client.get("/api/orders", headers=bearer(customer_token)).status_code == 200  # the control
    for issuer in wrong_hosts(emulator):
        forged = resigned(customer_token, emulator.emulator.external_keys.active, iss=issuer)
        assert_invalid_token(customers_client.get("/api/orders", headers=bearer(forged)), "wrong issuer", forged)


def test_keys_from_the_other_discovery_document_are_refused(customers_client, customer_token, emulator):
    # Every claim right for the external tenant, signed by the workforce discovery's key.
    workforce_key = emulator.emulator.keys.active
    forged = resigned(customer_token, workforce_key)
    assert_invalid_token(customers_client.get("/api/orders", headers=bearer(forged)), "unknown signing key", forged)
    # ... or naming the external key's kid: the signature does not verify.
    external_kid = header_of(customer_token)["kid"]
    claims = claims_of(customer_token)
    forged = sign_rs256({**header_of(customer_token), "kid": external_kid}, claims, workforce_key.private_key)
    assert_invalid_token(customers_client.get("/api/orders", headers=bearer(forged)), "bad signature", forged)


def test_an_external_id_authority_whose_discovery_names_a_workforce_issuer_trusts_nothing(
        make_customers_app, employee_token, emulator):
    # kind ciam, but the discovery is a workforce tenant's: its issuer has the workforce shape.
    client = make_customers_app(ENTRA_AUTHORITY=f"{emulator.url}/{HOME_TENANT_ID}", ENTRA_AUTHORITY_KIND="ciam",
                                ENTRA_ALLOWED_TENANTS=[HOME_TENANT_ID], API_CLIENT_ID=API_CLIENT_ID).test_client()
    assert_unavailable(client.get("/api/orders", headers=bearer(employee_token)), employee_token)


def test_a_workforce_authority_whose_discovery_names_an_external_id_issuer_trusts_nothing(
        make_customers_app, customer_token, emulator):
    client = make_customers_app(ENTRA_AUTHORITY=external_authority(emulator), ENTRA_AUTHORITY_KIND="workforce"
                                ).test_client()
    assert_unavailable(client.get("/api/orders", headers=bearer(customer_token)), customer_token)


def test_readiness_fails_while_the_discovery_names_an_issuer_of_another_kind(make_customers_app, emulator):
    ready = make_customers_app().test_client().get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    mismatched = make_customers_app(ENTRA_AUTHORITY=external_authority(emulator), ENTRA_AUTHORITY_KIND="workforce")
    answer = mismatched.test_client().get("/readyz")
    assert answer.status_code == 503 and answer.get_json()["failing"] == ["identity provider"]
