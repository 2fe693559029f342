"""Claims: issuer, tenant, audience, token kind and lifetime, each refused with its own reason."""

from __future__ import annotations

import time

import pytest

from tests.conftest import (
    API_CLIENT_ID,
    FOREIGN_TENANT_ID,
    GRAPH_USER_READ,
    HOME_TENANT_ID,
    WEB_CLIENT_ID,
    confidential_app,
)

from .helpers import LEE, MEGAN, assert_invalid_token, bearer, claims_of, header_of, sign_rs256


@pytest.fixture
def home_only_client(make_app):
    return make_app(ENTRA_ALLOWED_TENANTS=[HOME_TENANT_ID]).test_client()


@pytest.mark.parametrize(
    "fault, reason",
    [
        ("wrong_iss", "wrong issuer"),
        ("tid_iss_mismatch", "wrong issuer"),
        ("wrong_aud", "wrong audience"),
        ("aud_list_stranger", "wrong audience"),
        ("expired", "token expired"),
        ("not_yet_valid", "token not yet valid"),
        ("missing_iat", "missing iat claim"),
        ("missing_sub", "missing sub claim"),
        ("missing_oid", "missing oid claim"),
        ("missing_tid", "missing tid claim"),
    ],
)
def test_a_faulty_token_from_the_emulator_is_refused(client, tokens, control, fault, reason):
    token = tokens.with_fault(control, fault)
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), reason, token)


def test_the_tid_iss_mismatch_fault_really_mismatches(tokens, control):
    claims = claims_of(tokens.with_fault(control, "tid_iss_mismatch"))
    assert claims["tid"] == FOREIGN_TENANT_ID and f"/{HOME_TENANT_ID}/" in claims["iss"]


def test_an_audience_list_is_refused_even_when_it_holds_only_us(client, tokens, resign):
    claims = claims_of(tokens.user())
    assert_invalid_token(client.get("/api/orders", headers=bearer(resign({**claims, "aud": [API_CLIENT_ID]}))),
                         "wrong audience")


# -- tenants ----------------------------------------------------------------------------------------
def test_a_foreign_tenant_user_is_refused_when_the_tenant_is_not_allowed(home_only_client, tokens):
    token = tokens.user(LEE)
    assert claims_of(token)["tid"] == FOREIGN_TENANT_ID
    assert_invalid_token(home_only_client.get("/api/orders", headers=bearer(token)), "tenant not allowed", token)
    # The same app still serves its own tenant: the refusal is about the tenant, not the app.
    assert home_only_client.get("/api/orders", headers=bearer(tokens.user(MEGAN))).status_code == 200


def test_a_foreign_tid_with_a_matching_issuer_is_refused_by_the_allow_list(home_only_client, tokens, control):
    token = tokens.with_fault(control, "foreign_tid")
    assert claims_of(token)["tid"] == FOREIGN_TENANT_ID
    assert_invalid_token(home_only_client.get("/api/orders", headers=bearer(token)), "tenant not allowed", token)


def test_both_dev_tenants_are_allowed_by_default(client, tokens):
    assert client.get("/api/orders", headers=bearer(tokens.user(LEE))).status_code == 200


@pytest.mark.parametrize("tid", ["common", "organizations", "9188040d-6c67-4c5b-b112-36a304b66dad", ""])
def test_tenant_placeholders_and_strangers_are_not_allowed(client, tokens, resign, emulator, tid):
    claims = claims_of(tokens.user())
    token = resign({**claims, "tid": tid, "iss": f"{emulator.url}/{tid}/v2.0"})
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "tenant not allowed", token)


@pytest.mark.parametrize("issuer", [
    "{url}/{tid}/v2.0/",  # trailing slash
    "{url}/{tid}",  # v1 style path
    "https://sts.windows.net/{tid}/",  # the v1 issuer
    "{url}/organizations/v2.0",  # the discovery template, not a tenant
    "{url}/{{tenantid}}/v2.0",
])
def test_the_issuer_must_match_exactly(client, tokens, resign, emulator, issuer):
    claims = claims_of(tokens.user())
    token = resign({**claims, "iss": issuer.format(url=emulator.url, tid=claims["tid"])})
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "wrong issuer", token)


# -- tokens meant for someone else ------------------------------------------------------------------
def test_the_web_apps_id_token_is_refused(client, tokens):
    id_token = tokens.user_result()["id_token"]
    assert claims_of(id_token)["aud"] == WEB_CLIENT_ID
    assert_invalid_token(client.get("/api/orders", headers=bearer(id_token)), "wrong audience", id_token)


def test_an_id_token_is_not_an_access_token_even_if_the_audience_were_accepted(make_app, tokens):
    """Defence in depth for a misconfigured audience list: an ID token carries no scope, so no access."""
    client = make_app(API_AUDIENCE=[API_CLIENT_ID, WEB_CLIENT_ID]).test_client()
    for username in (MEGAN, "adele@contoso.example"):
        id_token = tokens.sign_in(username)["id_token"]
        resp = client.get("/api/orders", headers=bearer(id_token))
        assert resp.status_code in (401, 403), (username, resp.status_code, resp.get_json())


def test_a_graph_token_is_refused(client, tokens, emulator, http):
    user_token = tokens.user()
    graph = confidential_app(emulator, http, API_CLIENT_ID).acquire_token_on_behalf_of(user_token, [GRAPH_USER_READ])
    token = graph["access_token"]
    assert claims_of(token)["aud"] != API_CLIENT_ID and header_of(token)["alg"] == "RS256"
    # Graph's own tokens carry a header nonce: like Entra's, they verify for Graph only, so the
    # API refuses them before it even reads the audience.
    assert "nonce" in header_of(token)
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), "bad signature", token)


# -- lifetime (60 s of clock skew) -------------------------------------------------------------------
@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda now: {"exp": now - 90}, "token expired"),
        (lambda now: {"exp": now - 30}, None),  # within the skew
        (lambda now: {"nbf": now + 120}, "token not yet valid"),
        (lambda now: {"nbf": now + 30}, None),
        (lambda now: {"iat": now + 120, "nbf": now}, "token not yet valid"),
        (lambda now: {"exp": str(now + 600)}, "malformed exp claim"),
        (lambda now: {"exp": True}, "malformed exp claim"),
        (lambda now: {"nbf": None}, "malformed nbf claim"),
    ],
    ids=["expired-90s", "expired-30s-skew", "nbf-120s", "nbf-30s-skew", "iat-future", "exp-string", "exp-bool",
         "nbf-null"],
)
def test_lifetime_with_clock_skew(client, tokens, resign, change, reason):
    token = resign({**claims_of(tokens.user()), **change(int(time.time()))})
    resp = client.get("/api/orders", headers=bearer(token))
    if reason is None:
        assert resp.status_code == 200, resp.get_json()
    else:
        assert_invalid_token(resp, reason, token)


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat", "tid", "oid", "sub"])
def test_every_required_claim_is_required(client, tokens, resign, claim):
    claims = claims_of(tokens.user())
    del claims[claim]
    token = resign(claims)
    assert_invalid_token(client.get("/api/orders", headers=bearer(token)), f"missing {claim} claim", token)
