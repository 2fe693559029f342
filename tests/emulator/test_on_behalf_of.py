"""On-behalf-of: the Orders API exchanges a user's token for a Graph token; and the refusals."""

from __future__ import annotations

import json

import jwt
import pytest

from tests.conftest import (
    API_CLIENT_ID,
    API_DEFAULT,
    API_SCOPE_READ,
    DAEMON_CLIENT_ID,
    GRAPH_USER_READ,
    HOME_TENANT_ID,
    WEB_CLIENT_ID,
    confidential_app,
    sign_in_with_msal,
)

from .helpers import assert_entra_error, strict_validate, unverified

MEGAN = "megan@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"
GRAPH_MAIL_READ = "https://graph.microsoft.com/Mail.Read"
GRAPH_RESOURCE = "https://graph.microsoft.com"


def test_api_exchanges_a_user_token_for_graph(emulator, control, jwks, api_app, user_api_token):
    assertion = user_api_token()
    seq = control.last_seq()
    result = api_app.acquire_token_on_behalf_of(assertion, [GRAPH_USER_READ])
    assert "access_token" in result, result
    # Graph's token is Graph's business: v1.0, and no client can verify it (header nonce).
    with pytest.raises(jwt.InvalidSignatureError):
        strict_validate(result["access_token"], jwks, authority_host=emulator.url, audience=GRAPH_RESOURCE)
    claims = unverified(result["access_token"])
    assert claims["ver"] == "1.0" and claims["aud"] == GRAPH_RESOURCE
    assert claims["scp"] == "User.Read"
    assert claims["oid"] == MEGAN_OID and claims["tid"] == HOME_TENANT_ID
    assert claims["appid"] == API_CLIENT_ID  # the API is the client now
    assert GRAPH_USER_READ in result["scope"].split()
    (call,) = [e for e in control.requests(seq) if e["endpoint"] == "token"]
    assert call["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert call["requested_token_use"] == "on_behalf_of"
    assert call["status"] == 200
    assert "assertion" in call["redacted_fields"]


def test_msal_does_not_cache_on_behalf_of_lookups(control, api_app, user_api_token):
    """MSAL never looks in its cache for OBO: every call goes to the token endpoint."""
    assertion = user_api_token()
    seq = control.last_seq()
    for _ in range(2):
        assert "access_token" in api_app.acquire_token_on_behalf_of(assertion, [GRAPH_USER_READ])
    assert len([e for e in control.requests(seq) if e["endpoint"] == "token"]) == 2


def test_assertion_for_graph_is_refused(emulator, http, browser, api_app):
    _, _, result = sign_in_with_msal(emulator, http, browser, MEGAN, [GRAPH_USER_READ])
    assert unverified(result["access_token"])["aud"] == GRAPH_RESOURCE
    refused = api_app.acquire_token_on_behalf_of(result["access_token"], [GRAPH_USER_READ])
    # Refused as an assertion (Graph's own token does not even verify outside Graph).
    assert_entra_error(refused, "invalid_grant", 50013)


def test_id_token_of_the_web_app_is_refused(emulator, http, browser, api_app):
    _, _, result = sign_in_with_msal(emulator, http, browser, MEGAN, [API_SCOPE_READ])
    assert unverified(result["id_token"])["aud"] == WEB_CLIENT_ID
    assert_entra_error(api_app.acquire_token_on_behalf_of(result["id_token"], [GRAPH_USER_READ]), "invalid_grant", 50013)


def test_app_only_token_is_refused(emulator, http, api_app):
    daemon = confidential_app(emulator, http, DAEMON_CLIENT_ID)
    app_token = daemon.acquire_token_for_client([API_DEFAULT])["access_token"]
    refused = api_app.acquire_token_on_behalf_of(app_token, [GRAPH_USER_READ])
    assert_entra_error(refused, "invalid_grant", 50013)
    assert "app-only" in refused["error_description"]


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("expired", 500133),
        ("aud_list_stranger", 50013),
        ("wrong_aud", 50013),
        ("wrong_iss", 50013),
        ("tid_iss_mismatch", 50013),
        ("bad_signature", 50013),
        ("unknown_kid", 50013),
        ("unsigned", 50013),
        ("hs256_public_key", 50013),
        ("missing_iat", 50013),
        ("missing_tid", 50013),
    ],
)
def test_faulty_assertion_is_refused(control, api_app, user_api_token, fault, code):
    control.token_fault(fault, token_type="access_token", client_id=WEB_CLIENT_ID)
    assertion = user_api_token()
    result = api_app.acquire_token_on_behalf_of(assertion, [GRAPH_USER_READ])
    assert_entra_error(result, "invalid_grant", code)
    # The same exchange with a sound assertion works.
    assert "access_token" in api_app.acquire_token_on_behalf_of(user_api_token(), [GRAPH_USER_READ])


def test_unconsented_scope_is_refused(api_app, user_api_token):
    result = api_app.acquire_token_on_behalf_of(user_api_token(), [GRAPH_MAIL_READ])
    assert_entra_error(result, "invalid_grant", 65001)
    assert result.get("suberror") == "consent_required"
    assert "Mail.Read" in result["error_description"]


def test_revoked_session_needs_interaction_with_a_claims_challenge(control, api_app, user_api_token):
    assertion = user_api_token()
    revoked = control.revoke(MEGAN)
    result = api_app.acquire_token_on_behalf_of(assertion, [GRAPH_USER_READ])
    assert_entra_error(result, "interaction_required", 50173)
    assert "suberror" not in result, "Entra sends no suberror with AADSTS50173"
    challenge = json.loads(result["claims"])
    assert challenge["access_token"]["nbf"] == {"essential": True, "value": str(revoked["revoked_at"])}
    # A token from a fresh sign-in after the revocation is accepted again.
    fresh = user_api_token()
    assert unverified(fresh)["iat"] >= revoked["revoked_at"]
    assert "access_token" in api_app.acquire_token_on_behalf_of(fresh, [GRAPH_USER_READ])


def test_other_client_secret_cannot_exchange(emulator, http, user_api_token):
    """The web app cannot use the API's assertion: it is not the audience."""
    web = confidential_app(emulator, http, WEB_CLIENT_ID)
    assert_entra_error(web.acquire_token_on_behalf_of(user_api_token(), [GRAPH_USER_READ]), "invalid_grant", 50013)
