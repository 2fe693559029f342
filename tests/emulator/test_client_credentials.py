"""Client credentials: by secret, by certificate (two MSAL shapes) and by a managed
identity's federated credential; and the refusals of each."""

from __future__ import annotations

import datetime as dt

import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.conftest import (
    API_CLIENT_ID,
    API_DEFAULT,
    DAEMON_CLIENT_ID,
    FOREIGN_TENANT_ID,
    HOME_TENANT_ID,
    MI_CLIENT_ID,
    WEB_CLIENT_ID,
    confidential_app,
)

from .helpers import SYSTEM_MI_CLIENT_ID, assert_entra_error, strict_validate


def _credential(kind: str, certificate_pem, federated_assertion, name: str = "daemon"):
    if kind == "secret":
        return None  # the helper's default: the registration's secret
    if kind == "certificate":
        pem = certificate_pem(name)
        return {"private_key": pem, "public_certificate": pem}
    if kind == "certificate-thumbprint":
        pem = certificate_pem(name)
        sha1 = x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA1()).hex()  # noqa: S303
        return {"private_key": pem, "thumbprint": sha1}
    if kind == "federated":
        return {"client_assertion": federated_assertion(MI_CLIENT_ID)}
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "azpacr"),
    [("secret", "1"), ("certificate", "2"), ("certificate-thumbprint", "2"), ("federated", "2")],
)
def test_daemon_gets_an_app_token(emulator, http, jwks, control, certificate_pem, federated_assertion,
                                  kind, azpacr):
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID,
                           credential=_credential(kind, certificate_pem, federated_assertion))
    seq = control.last_seq()
    result = app.acquire_token_for_client([API_DEFAULT])
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    claims = strict_validate(result["access_token"], jwks, authority_host=emulator.url, audience=API_CLIENT_ID)
    assert claims["roles"] == ["Orders.Read.All"]
    assert "idtyp" not in claims  # an optional claim the Orders API does not request
    assert "scp" not in claims
    assert claims["azp"] == DAEMON_CLIENT_ID and claims["azpacr"] == azpacr
    assert claims["tid"] == HOME_TENANT_ID and claims["oid"] == claims["sub"]
    assert claims["ver"] == "2.0" and claims["uti"]
    token_calls = [e for e in control.requests(seq) if e["endpoint"] == "token"]
    assert [e["grant_type"] for e in token_calls] == ["client_credentials"]
    if kind == "secret":
        assert token_calls[0]["redacted_fields"] == ["client_secret"]
    else:
        assert token_calls[0]["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        assert token_calls[0]["redacted_fields"] == ["client_assertion"]
    if kind == "federated":
        msi_calls = [e for e in control.requests(seq) if e["endpoint"] == "msi"]
        assert [e["resource"] for e in msi_calls] == ["api://AzureADTokenExchange"]


def test_msal_caches_the_app_token(emulator, http, control):
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID)
    seq = control.last_seq()
    first = app.acquire_token_for_client([API_DEFAULT])
    second = app.acquire_token_for_client([API_DEFAULT])
    assert first["access_token"] == second["access_token"]
    assert second["token_source"] == "cache"
    assert len([e for e in control.requests(seq) if e["endpoint"] == "token"]) == 1


def test_wrong_secret_is_refused(emulator, http):
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID, credential="not-the-secret")
    assert_entra_error(app.acquire_token_for_client([API_DEFAULT]), "invalid_client", 7000215)


def test_expired_certificate_is_refused(emulator, http, certificate_pem):
    pem = certificate_pem("orders-web-expired")
    assert x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc < dt.datetime.now(dt.timezone.utc)
    app = confidential_app(emulator, http, WEB_CLIENT_ID,
                           credential={"private_key": pem, "public_certificate": pem})
    result = app.acquire_token_for_client([API_DEFAULT])
    assert_entra_error(result, "invalid_client", 700027)
    assert "expired" in result["error_description"]


def test_certificate_of_another_app_is_refused(emulator, http, certificate_pem):
    pem = certificate_pem("orders-api")  # registered on the API, not on the daemon
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID, credential={"private_key": pem, "public_certificate": pem})
    result = app.acquire_token_for_client([API_DEFAULT])
    assert_entra_error(result, "invalid_client", 700027)
    assert "not registered" in result["error_description"]


def test_federated_assertion_with_unregistered_subject_is_refused(emulator, http, federated_assertion):
    """The system-assigned identity's principal id is on no federated credential."""
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID,
                           credential={"client_assertion": federated_assertion(SYSTEM_MI_CLIENT_ID)})
    result = app.acquire_token_for_client([API_DEFAULT])
    assert_entra_error(result, "invalid_client", 700213)
    assert "d0000004-0000-4000-8000-000000000002" in result["error_description"]


def test_federated_assertion_for_another_audience_is_refused(emulator, http, mi_client):
    """A managed-identity token for some resource is not an exchange assertion."""
    client = mi_client(msal.UserAssignedManagedIdentity(client_id=MI_CLIENT_ID))

    def assertion() -> str:
        return client.acquire_token_for_client(resource="https://graph.microsoft.com")["access_token"]

    app = confidential_app(emulator, http, DAEMON_CLIENT_ID, credential={"client_assertion": assertion})
    assert_entra_error(app.acquire_token_for_client([API_DEFAULT]), "invalid_client", 700212)


def test_federated_assertion_expired_is_refused(emulator, http, control, federated_assertion):
    control.token_fault("expired", client_id=MI_CLIENT_ID)
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID,
                           credential={"client_assertion": federated_assertion(MI_CLIENT_ID)})
    assert_entra_error(app.acquire_token_for_client([API_DEFAULT]), "invalid_client", 700024)


@pytest.mark.parametrize(
    ("scope", "error", "code"),
    [
        (f"api://{API_CLIENT_ID}/Orders.Read", "invalid_scope", 1002012),
        ("api://nobody/.default", "invalid_resource", 500011),
    ],
)
def test_client_credentials_scope_must_be_default(emulator, http, scope, error, code):
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID)
    assert_entra_error(app.acquire_token_for_client([scope]), error, code)


def test_client_credentials_for_two_resources_is_an_invalid_scope(emulator, http):
    """Entra answers two resources' .default in one client-credentials request with AADSTS70011
    (invalid_scope), not the AADSTS28000 of a user's token request."""
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID)
    result = app.acquire_token_for_client([API_DEFAULT, "https://graph.microsoft.com/.default"])
    assert_entra_error(result, "invalid_scope", 70011)


def test_client_credentials_needs_a_tenant(emulator, http):
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID, tenant="organizations")
    with pytest.warns(DeprecationWarning, match="specific tenant"):
        result = app.acquire_token_for_client([API_DEFAULT])
    assert_entra_error(result, "invalid_request", 50059)


def test_single_tenant_app_is_not_in_another_tenant(emulator, http):
    app = confidential_app(emulator, http, DAEMON_CLIENT_ID, tenant=FOREIGN_TENANT_ID)
    assert_entra_error(app.acquire_token_for_client([API_DEFAULT]), "unauthorized_client", 700016)


def test_app_without_application_grant_gets_no_roles(emulator, http, jwks):
    """The web app holds no application permission on the API: its app token has no roles."""
    app = confidential_app(emulator, http, WEB_CLIENT_ID)
    result = app.acquire_token_for_client([API_DEFAULT])
    claims = strict_validate(result["access_token"], jwks, authority_host=emulator.url, audience=API_CLIENT_ID)
    assert "roles" not in claims and claims["oid"] == claims["sub"] and "scp" not in claims
