"""Discovery documents and the JWKS: what MSAL and relying parties read first."""

from __future__ import annotations

import base64
import hashlib

import jwt
import pytest
from cryptography import x509

from tests.conftest import FOREIGN_TENANT_ID, HOME_TENANT_ID

from .helpers import assert_entra_error


@pytest.mark.parametrize(
    ("segment", "issuer_tenant"),
    [
        (HOME_TENANT_ID, HOME_TENANT_ID),
        (FOREIGN_TENANT_ID, FOREIGN_TENANT_ID),
        ("contoso.example", HOME_TENANT_ID),
        ("organizations", "{tenantid}"),
        ("common", "{tenantid}"),
    ],
)
def test_discovery_names_issuer_and_endpoints(emulator, http, segment, issuer_tenant):
    resp = http.get(f"{emulator.url}/{segment}/v2.0/.well-known/openid-configuration")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["issuer"] == f"{emulator.url}/{issuer_tenant}/v2.0"
    base = f"{emulator.url}/{segment}"
    assert doc["authorization_endpoint"] == f"{base}/oauth2/v2.0/authorize"
    assert doc["token_endpoint"] == f"{base}/oauth2/v2.0/token"
    assert doc["end_session_endpoint"] == f"{base}/oauth2/v2.0/logout"
    assert doc["jwks_uri"] == f"{base}/discovery/v2.0/keys"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "form_post" in doc["response_modes_supported"]
    assert doc["frontchannel_logout_supported"] is True


@pytest.mark.parametrize(
    ("segment", "error", "code"),
    [
        ("33333333-3333-4333-8333-333333333333", "invalid_tenant", 90002),
        ("home", "invalid_tenant", 90002),  # manifest keys are not URL names
        ("consumers", "invalid_request", 9002331),
    ],
)
def test_discovery_refuses_unknown_tenants(emulator, http, segment, error, code):
    resp = http.get(f"{emulator.url}/{segment}/v2.0/.well-known/openid-configuration")
    assert resp.status_code == 400
    assert_entra_error(resp.json(), error, code)


def test_jwks_publishes_at_least_two_keys_with_kid_and_x5t(emulator, http):
    resp = http.get(f"{emulator.url}/{HOME_TENANT_ID}/discovery/v2.0/keys")
    assert resp.status_code == 200
    keys = resp.json()["keys"]
    assert len(keys) >= 2
    assert len({k["kid"] for k in keys}) == len(keys)
    for key in keys:
        assert key["kty"] == "RSA" and key["use"] == "sig"
        assert key["kid"] and key["x5t"]
        # x5t is the SHA-1 thumbprint of the certificate in x5c, and carries the same public key.
        der = base64.b64decode(key["x5c"][0])
        thumb = base64.urlsafe_b64encode(hashlib.sha1(der).digest()).rstrip(b"=").decode()  # noqa: S324
        assert key["x5t"] == thumb
        cert_numbers = x509.load_der_x509_certificate(der).public_key().public_numbers()
        assert jwt.PyJWK(key).key.public_numbers() == cert_numbers


def test_jwks_is_the_same_for_every_tenant_segment(emulator, http):
    kids = [
        [k["kid"] for k in http.get(f"{emulator.url}/{segment}/discovery/v2.0/keys").json()["keys"]]
        for segment in (HOME_TENANT_ID, FOREIGN_TENANT_ID, "organizations", "common")
    ]
    assert all(k == kids[0] for k in kids)


def test_rotation_signs_with_the_new_key_and_keeps_the_old_one_published_until_retired(emulator, http, control):
    from tests.conftest import API_CLIENT_ID, API_DEFAULT, DAEMON_CLIENT_ID, confidential_app

    from .helpers import header_of, strict_validate

    def daemon_token() -> str:  # a new MSAL app each time: its own cache, so a new token
        result = confidential_app(emulator, http, DAEMON_CLIENT_ID).acquire_token_for_client([API_DEFAULT])
        return result["access_token"]

    before = daemon_token()
    old_kid = header_of(before)["kid"]
    published_before = {k["kid"] for k in http.get(f"{emulator.url}/{HOME_TENANT_ID}/discovery/v2.0/keys").json()["keys"]}
    rotated = control.rotate_keys()
    after = daemon_token()
    new_kid = header_of(after)["kid"]
    assert new_kid == rotated["active"] != old_kid
    assert new_kid in published_before, "a normal rotation promotes the key published in advance"

    keys = {k["kid"]: jwt.PyJWK(k) for k in http.get(f"{emulator.url}/{HOME_TENANT_ID}/discovery/v2.0/keys").json()["keys"]}
    assert {old_kid, new_kid} <= set(keys), "both keys are published for a while"
    for token in (before, after):  # both verify against the JWKS published now
        strict_validate(token, keys, authority_host=emulator.url, audience=API_CLIENT_ID)

    assert old_kid in control.retire_keys()["retired"]
    published = {k["kid"] for k in http.get(f"{emulator.url}/{HOME_TENANT_ID}/discovery/v2.0/keys").json()["keys"]}
    assert old_kid not in published and new_kid in published
