"""The external tenant's discovery document and keys: an issuer on another host than the authority,
keys of its own, and each kind of tenant only on its own host."""

from __future__ import annotations

from urllib.parse import urlsplit

import jwt
import pytest

from tests.conftest import HOME_TENANT_ID

from .external_tenant import (
    CUSTOMERS_DAEMON_CLIENT_ID,
    CUSTOMERS_DOMAIN,
    CUSTOMERS_API_CLIENT_ID,
    CUSTOMERS_TENANT_ID,
    customers_app,
    external_authority,
    external_issuer,
)
from .helpers import assert_entra_error, fetch_jwks


def _discovery(http, authority: str):
    return http.get(f"{authority}/v2.0/.well-known/openid-configuration")


@pytest.mark.parametrize("segment", [CUSTOMERS_TENANT_ID, CUSTOMERS_DOMAIN])
def test_discovery_names_an_issuer_on_another_host(emulator, http, segment):
    resp = _discovery(http, external_authority(emulator, segment))
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["issuer"] == external_issuer(emulator)
    authority_host = urlsplit(external_authority(emulator)).hostname
    assert authority_host == "localhost" != urlsplit(emulator.url).hostname
    assert urlsplit(doc["issuer"]).hostname == f"{CUSTOMERS_TENANT_ID}.localhost"
    # What MSAL and the app fetch is on the authority's host, which resolves.
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint"):
        assert doc[key].startswith(f"{external_authority(emulator).rsplit('/', 1)[0]}/{segment}/"), (key, doc[key])


def test_external_keys_are_not_the_workforce_keys(emulator, http):
    external = http.get(_discovery(http, external_authority(emulator)).json()["jwks_uri"]).json()["keys"]
    workforce = fetch_jwks(http, emulator)
    assert external and workforce
    assert not {k["kid"] for k in external} & set(workforce)


def test_a_customer_token_verifies_only_with_its_own_discovery_keys(emulator, http):
    result = customers_app(emulator, http, CUSTOMERS_DAEMON_CLIENT_ID).acquire_token_for_client(
        [f"api://{CUSTOMERS_API_CLIENT_ID}/.default"])
    token = result["access_token"]
    kid = jwt.get_unverified_header(token)["kid"]
    jwks_uri = _discovery(http, external_authority(emulator)).json()["jwks_uri"]
    own = {k["kid"]: jwt.PyJWK(k) for k in http.get(jwks_uri).json()["keys"]}
    claims = jwt.decode(token, own[kid].key, algorithms=["RS256"], audience=CUSTOMERS_API_CLIENT_ID,
                        issuer=external_issuer(emulator))
    assert claims["tid"] == CUSTOMERS_TENANT_ID
    assert kid not in fetch_jwks(http, emulator)  # the workforce discovery's keys cannot verify it


@pytest.mark.parametrize("path", ["v2.0/.well-known/openid-configuration", "discovery/v2.0/keys"])
def test_each_kind_of_tenant_only_on_its_own_host(emulator, http, path):
    wrong_host_for_customers = http.get(f"{emulator.url}/{CUSTOMERS_TENANT_ID}/{path}")
    assert wrong_host_for_customers.status_code == 400
    assert_entra_error(wrong_host_for_customers.json(), "invalid_tenant", 90002)
    for workforce in (HOME_TENANT_ID, "organizations"):
        wrong_host_for_workforce = http.get(f"{emulator.emulator.external.authority_url}/{workforce}/{path}")
        assert wrong_host_for_workforce.status_code == 400, workforce
    assert http.get(f"{emulator.url}/{HOME_TENANT_ID}/{path}").status_code == 200


def test_msal_oidc_authority_accepts_the_issuer_host(emulator, http):
    """MSAL Python checks an oidc_authority's discovery issuer: ``<tid>.<authority host>`` passes."""
    app = customers_app(emulator, http, CUSTOMERS_DAEMON_CLIENT_ID, oidc=True)
    result = app.acquire_token_for_client([f"api://{CUSTOMERS_API_CLIENT_ID}/.default"])
    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["iss"] == external_issuer(emulator)
    assert claims["roles"] == ["Orders.Read.All"] and claims["ver"] == "2.0"


def test_the_control_surface_names_each_tenants_authority_and_issuer(emulator, http):
    tenants = {t["id"]: t for t in http.get(f"{emulator.url}/_emulator/info").json()["tenants"]}
    customers = tenants[CUSTOMERS_TENANT_ID]
    assert customers["kind"] == "external"
    assert customers["authority"] == external_authority(emulator)
    assert customers["issuer"] == external_issuer(emulator)
    assert tenants[HOME_TENANT_ID]["authority"] == f"{emulator.url}/{HOME_TENANT_ID}"
    assert tenants[HOME_TENANT_ID]["kind"] == "workforce"
