"""Faults of the refresh grant's answer: another user's tokens, or a bad ID token, on a refresh only.

They let the app's refusal of a refresh that switches the user (OpenID Connect Core §12.2) be
tested through the real protocol; a sign-in in between is not hit by them.
"""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from tests.conftest import API_SCOPE_READ, FOREIGN_TENANT_ID, HOME_TENANT_ID, WEB_CLIENT_ID, sign_in_with_msal

from .helpers import strict_validate, unverified

MEGAN = "megan@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"
ADELE_OID = "a0000001-0000-4000-8000-000000000002"  # the same tenant's next user
LEE_OID = "b0000002-0000-4000-8000-000000000001"  # the foreign tenant's user


def client_info(result: dict) -> dict:
    raw = result["client_info"]
    return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


@pytest.mark.parametrize(("fault", "stranger_oid", "stranger_tid"), [
    ("other_user", ADELE_OID, HOME_TENANT_ID),
    ("other_tenant", LEE_OID, FOREIGN_TENANT_ID),
])
def test_a_whole_refresh_answer_for_someone_else(emulator, http, browser, control, fault, stranger_oid, stranger_tid):
    app, _, first = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    control.token_fault(fault, client_id=WEB_CLIENT_ID)
    switched = app.acquire_token_by_refresh_token(first["refresh_token"], [API_SCOPE_READ])
    id_claims, at_claims = unverified(switched["id_token"]), unverified(switched["access_token"])
    assert (id_claims["oid"], id_claims["tid"]) == (stranger_oid, stranger_tid)
    assert id_claims["sub"] != unverified(first["id_token"])["sub"]
    assert id_claims["iss"].endswith(f"/{stranger_tid}/v2.0")
    assert (at_claims["oid"], at_claims["tid"]) == (stranger_oid, stranger_tid)
    assert client_info(switched) == {"uid": stranger_oid, "utid": stranger_tid}
    assert "nonce" not in id_claims
    # The refresh token of that answer is the stranger's too, as a real answer for them would be.
    again = app.acquire_token_by_refresh_token(switched["refresh_token"], [API_SCOPE_READ])
    assert unverified(again["id_token"])["oid"] == stranger_oid


@pytest.mark.parametrize("fault", ["other_user", "other_tenant"])
def test_only_the_id_token_of_a_refresh_for_someone_else(emulator, http, browser, control, fault):
    app, _, first = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    control.token_fault(fault, token_type="id_token", client_id=WEB_CLIENT_ID)
    switched = app.acquire_token_by_refresh_token(first["refresh_token"], [API_SCOPE_READ])
    assert unverified(switched["id_token"])["oid"] != MEGAN_OID
    assert unverified(switched["access_token"])["oid"] == MEGAN_OID
    assert client_info(switched)["uid"] == MEGAN_OID
    after = app.acquire_token_by_refresh_token(switched["refresh_token"], [API_SCOPE_READ])
    assert unverified(after["id_token"])["oid"] == MEGAN_OID, "one-shot"


@pytest.mark.parametrize(("fault", "refusal"), [
    ("bad_signature", jwt.InvalidSignatureError),
    ("wrong_aud", jwt.InvalidAudienceError),
    ("other_user", None),
])
def test_a_refresh_fault_leaves_a_sign_in_alone(emulator, http, browser, control, jwks, fault, refusal):
    control.token_fault(fault, token_type="id_token", client_id=WEB_CLIENT_ID, grant="refresh_token")
    app, _, signed_in = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    sign_in_claims = strict_validate(signed_in["id_token"], jwks, authority_host=emulator.url, audience=WEB_CLIENT_ID)
    assert sign_in_claims["oid"] == MEGAN_OID
    refreshed = app.acquire_token_by_refresh_token(signed_in["refresh_token"], [API_SCOPE_READ])
    if refusal is None:
        assert unverified(refreshed["id_token"])["oid"] == ADELE_OID
    else:
        with pytest.raises(refusal):
            strict_validate(refreshed["id_token"], jwks, authority_host=emulator.url, audience=WEB_CLIENT_ID)
        assert unverified(refreshed["access_token"])["oid"] == MEGAN_OID, "only the ID token carries it"


@pytest.mark.parametrize("body", [
    {"fault": "other_user", "grant": "authorization_code"},
    {"fault": "other_tenant", "token_type": "access_token"},
    {"fault": "bad_signature", "grant": "password"},
])
def test_refresh_faults_are_refused_where_they_make_no_sense(control, body):
    response = control.http.post(f"{control.base}/token-faults", json=body)
    assert response.status_code == 400, response.text
