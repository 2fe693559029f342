"""Next-token faults: each yields a token a strict PyJWT validation refuses, for the
intended reason, while the token issued right after it (unfaulted) passes."""

from __future__ import annotations

import jwt
import msal
import pytest

from entra_emulator.state import TOKEN_FAULTS
from tests.conftest import (
    API_CLIENT_ID,
    API_DEFAULT,
    API_SCOPE_READ,
    DAEMON_CLIENT_ID,
    REDIRECT_URI,
    WEB_CLIENT_ID,
    authorization_response,
    confidential_app,
    pick_account,
)

from .helpers import sent_nonce, strict_validate, unverified

MEGAN = "megan@contoso.example"

# fault -> what a strict validation raises for it
REFUSALS: dict[str, tuple[type[Exception], str | None]] = {
    "wrong_iss": (jwt.InvalidIssuerError, "does not belong"),
    "wrong_aud": (jwt.InvalidAudienceError, None),
    "aud_list_stranger": (jwt.InvalidAudienceError, None),
    "wrong_nonce": (jwt.InvalidTokenError, "nonce"),
    "foreign_tid": (jwt.InvalidIssuerError, "not accepted"),
    "tid_iss_mismatch": (jwt.InvalidIssuerError, None),
    "expired": (jwt.ExpiredSignatureError, None),
    "not_yet_valid": (jwt.ImmatureSignatureError, None),
    "missing_iat": (jwt.MissingRequiredClaimError, "iat"),
    "missing_sub": (jwt.MissingRequiredClaimError, "sub"),
    "missing_oid": (jwt.MissingRequiredClaimError, "oid"),
    "missing_tid": (jwt.MissingRequiredClaimError, "tid"),
    "unsigned": (jwt.InvalidAlgorithmError, "none"),
    "bad_signature": (jwt.InvalidSignatureError, None),
    "unknown_kid": (jwt.InvalidKeyError, "not in the JWKS"),
    "hs256_public_key": (jwt.InvalidAlgorithmError, "HS256"),
}


def test_every_fault_kind_is_covered():
    assert set(REFUSALS) == set(TOKEN_FAULTS)


def _sign_in(emulator, http, browser):
    """Sign in with MSAL; returns (flow, response) where response holds the raw tokens."""
    app = confidential_app(emulator, http, WEB_CLIENT_ID, tenant="organizations")
    flow = app.initiate_auth_code_flow([API_SCOPE_READ], redirect_uri=REDIRECT_URI, response_mode="form_post")
    auth_response = authorization_response(pick_account(browser, flow["auth_uri"], MEGAN))
    try:
        return flow, app.acquire_token_by_auth_code_flow(flow, auth_response)
    except RuntimeError as exc:
        # MSAL's own (and only) ID-token check: the nonce. It raises, yet has already
        # cached what it received; take the ID token from there to validate it too.
        assert "nonce" in str(exc)
        (cached,) = list(app.token_cache.search(msal.TokenCache.CredentialType.ID_TOKEN))
        return flow, {"id_token": cached["secret"], "nonce_refused_by_msal": True}


@pytest.mark.parametrize("fault", sorted(REFUSALS))
def test_faulty_id_token_is_refused(emulator, http, browser, control, jwks, fault):
    control.token_fault(fault, token_type="id_token", client_id=WEB_CLIENT_ID)
    flow, result = _sign_in(emulator, http, browser)
    assert result.get("nonce_refused_by_msal", False) == (fault == "wrong_nonce")
    error, match = REFUSALS[fault]
    with pytest.raises(error, match=match):
        strict_validate(result["id_token"], jwks, authority_host=emulator.url, audience=WEB_CLIENT_ID,
                        nonce=sent_nonce(flow))
    if "access_token" in result:  # the fault was for the ID token only
        strict_validate(result["access_token"], jwks, authority_host=emulator.url, audience=API_CLIENT_ID)
    # One-shot: the next sign-in's ID token passes.
    flow, result = _sign_in(emulator, http, browser)
    claims = strict_validate(result["id_token"], jwks, authority_host=emulator.url, audience=WEB_CLIENT_ID,
                             nonce=sent_nonce(flow))
    assert claims["preferred_username"] == MEGAN


@pytest.mark.parametrize("fault", sorted(set(REFUSALS) - {"wrong_nonce"}))  # app tokens carry no nonce
def test_faulty_access_token_is_refused(emulator, http, control, jwks, fault):
    control.token_fault(fault, token_type="access_token", client_id=DAEMON_CLIENT_ID)
    faulty = confidential_app(emulator, http, DAEMON_CLIENT_ID).acquire_token_for_client([API_DEFAULT])
    error, match = REFUSALS[fault]
    with pytest.raises(error, match=match):
        strict_validate(faulty["access_token"], jwks, authority_host=emulator.url, audience=API_CLIENT_ID)
    sound = confidential_app(emulator, http, DAEMON_CLIENT_ID).acquire_token_for_client([API_DEFAULT])
    claims = strict_validate(sound["access_token"], jwks, authority_host=emulator.url, audience=API_CLIENT_ID)
    assert claims["roles"] == ["Orders.Read.All"]


def test_fault_waits_for_its_client_and_token_type(emulator, http, browser, control, jwks):
    control.token_fault("expired", token_type="access_token", client_id=DAEMON_CLIENT_ID)
    # Someone else's tokens, and the daemon's... nothing else: the web sign-in is untouched.
    _, result = _sign_in(emulator, http, browser)
    strict_validate(result["access_token"], jwks, authority_host=emulator.url, audience=API_CLIENT_ID)
    strict_validate(result["id_token"], jwks, authority_host=emulator.url, audience=WEB_CLIENT_ID)
    faulty = confidential_app(emulator, http, DAEMON_CLIENT_ID).acquire_token_for_client([API_DEFAULT])
    with pytest.raises(jwt.ExpiredSignatureError):
        strict_validate(faulty["access_token"], jwks, authority_host=emulator.url, audience=API_CLIENT_ID)


def test_faults_queue_in_order(emulator, http, control, jwks):
    control.token_fault("wrong_aud", client_id=DAEMON_CLIENT_ID)
    control.token_fault("missing_oid", client_id=DAEMON_CLIENT_ID)
    tokens = [confidential_app(emulator, http, DAEMON_CLIENT_ID).acquire_token_for_client([API_DEFAULT])["access_token"]
              for _ in range(3)]
    assert unverified(tokens[0])["aud"] != API_CLIENT_ID
    assert "oid" not in unverified(tokens[1])
    strict_validate(tokens[2], jwks, authority_host=emulator.url, audience=API_CLIENT_ID)
    issued = [e["issued"][0] for e in control.requests() if e["endpoint"] == "token"]
    assert [i["alg"] for i in issued] == ["RS256"] * 3
