"""Security groups as roles on the API tier (issue #19): the tenant-wide view of orders by bearer token,
for app-role holders and members of a mapped group alike; the overage resolved on behalf of the
caller once per token; Graph failures answered 503 with Retry-After, never 403, never access.

Tokens come from real sign-ins through unmodified MSAL; the emulator's manifest is described in
tests/web/test_groups.py.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import API_CLIENT_ID

from .helpers import bearer, claims_of, header_of, sign_rs256

GRACE = "grace@contoso.example"
NINA = "nina@contoso.example"
NESTOR = "nestor@contoso.example"
MEGAN = "megan@contoso.example"
ORDERS_APPROVERS = "f0000006-0000-4000-8000-000000000001"
MEMBER_OBJECTS = "/v1.0/me/getMemberObjects"
TENANT_VIEW = "/api/orders?view=tenant"


def membership_lookups(control, since: int = 0) -> list[dict]:
    """Graph getMemberObjects requests made with a token the API obtained on-behalf-of a caller."""
    return [e for e in control.requests(since)
            if e["path"] == MEMBER_OBJECTS and (e.get("bearer") or {}).get("appid") == API_CLIENT_ID]


def lookups_logged(control, since: int, expected: int, *, wait: float = 6.0) -> list[dict]:
    """Every getMemberObjects request logged (a faulted answer names no caller), once ``expected`` are: a slow
    answer is logged when the emulator sends it, after the app stopped waiting."""
    deadline = time.monotonic() + wait
    while len(found := [e for e in control.requests(since) if e["path"] == MEMBER_OBJECTS]) < expected \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def clear_faults(control) -> None:
    assert control.http.delete(f"{control.base}/faults").status_code in (200, 204)


@pytest.fixture
def api(make_app):
    return make_app(ENABLED_BLUEPRINTS=["api"]).test_client()


def test_the_members_token_carries_the_group_and_opens_the_tenant_view(api, tokens):
    token = tokens.sign_in(GRACE)["access_token"]
    assert ORDERS_APPROVERS in claims_of(token)["groups"] and "roles" not in claims_of(token)
    answer = api.get(TENANT_VIEW, headers=bearer(token))
    assert answer.status_code == 200 and answer.get_json()["view"] == "tenant"


def test_a_nested_membership_counts(api, tokens):
    answer = api.get(TENANT_VIEW, headers=bearer(tokens.sign_in(NINA)["access_token"]))
    assert answer.status_code == 200 and answer.get_json()["view"] == "tenant"


def test_a_user_in_no_mapped_group_gets_403(api, tokens):
    answer = api.get(TENANT_VIEW, headers=bearer(tokens.sign_in(MEGAN)["access_token"]))
    assert answer.status_code == 403 and answer.get_json()["error"] == "forbidden"
    # Her own orders stay hers to read.
    assert api.get("/api/orders", headers=bearer(tokens.user(MEGAN))).status_code == 200


def test_the_overage_caller_gets_in_through_graph_once_per_token(api, tokens, control, redis_client):
    first = tokens.sign_in(NESTOR)["access_token"]
    marker = claims_of(first)
    assert "groups" not in marker and marker["_claim_names"] == {"groups": "src1"}
    since = control.last_seq()
    for _ in range(3):
        answer = api.get(TENANT_VIEW, headers=bearer(first))
        assert answer.status_code == 200 and answer.get_json()["view"] == "tenant"
    assert len(membership_lookups(control, since)) == 1
    # What Redis keeps: one sealed record under a keyed name, living no longer than the token.
    [name] = redis_client.keys("groups:api:*")
    assert marker["oid"].encode() not in name and ORDERS_APPROVERS.encode() not in redis_client.get(name)
    assert 0 < redis_client.ttl(name) <= marker["exp"] - time.time() + 1
    # Opened by the app: only the mapped group, not his 249 others.
    memberships = api.application.extensions["entra_auth"].api.memberships
    assert memberships.get(marker["tid"], marker["oid"], first) == {ORDERS_APPROVERS}
    # A new token is a new resolution.
    second = tokens.sign_in(NESTOR)["access_token"]
    assert api.get(TENANT_VIEW, headers=bearer(second)).status_code == 200
    assert len(membership_lookups(control, since)) == 2


def test_the_claim_sources_endpoint_of_a_token_is_never_requested(api, tokens, control):
    control.settings(group_overage_endpoint="https://127.0.0.1:9/{tid}/users/{oid}/getMemberObjects")
    token = tokens.sign_in(NESTOR)["access_token"]
    source = claims_of(token)["_claim_sources"]["src1"]["endpoint"]
    assert source.startswith("https://127.0.0.1:9/")
    since = control.last_seq()
    assert api.get(TENANT_VIEW, headers=bearer(token)).status_code == 200
    # Graph at GRAPH_API_BASE_URL answered instead (a request to port 9 would have failed the call).
    assert [e["path"] for e in membership_lookups(control, since)] == [MEMBER_OBJECTS]


@pytest.mark.parametrize("fault", [
    pytest.param({"status": 503}, id="graph-503"),
    pytest.param({"mode": "slow", "delay": 3.0}, id="graph-timeout"),
    pytest.param({"status": 200, "body": "html"}, id="graph-html-200"),
])
def test_graph_failures_answer_503_never_403_nor_access_and_recover(make_app, tokens, control, redis_client, fault):
    api = make_app(ENABLED_BLUEPRINTS=["api"], HTTP_TIMEOUT_SECONDS=1.0).test_client()
    token = tokens.sign_in(NESTOR)["access_token"]
    since = control.last_seq()
    control.fault("graph", **fault)
    for _ in range(2):  # nothing cached by a failure: the second call asks Graph again
        failed = api.get(TENANT_VIEW, headers=bearer(token))
        assert failed.status_code == 503 and failed.headers["Retry-After"] == "5"
        assert failed.get_json()["error"] == "temporarily_unavailable" and "orders" not in failed.get_json()
    assert len(lookups_logged(control, since, 2)) == 2
    assert redis_client.keys("groups:api:*") == []
    clear_faults(control)
    recovered = api.get(TENANT_VIEW, headers=bearer(token))
    assert recovered.status_code == 200 and recovered.get_json()["view"] == "tenant"


def test_graph_refusing_the_token_names_the_missing_permission(api, tokens, control, caplog):
    token = tokens.sign_in(NESTOR)["access_token"]
    control.fault("graph", status=403, body="graph")
    with caplog.at_level("ERROR", logger="entra_auth.group_membership"):
        refused = api.get(TENANT_VIEW, headers=bearer(token))
    assert refused.status_code == 403
    body = refused.get_json()
    assert body["error"] == "consent_required" and body["permission"] == "User.Read (Microsoft Graph, delegated)"
    assert any("configuration problem" in r.getMessage() for r in caplog.records)
    assert all(token not in r.getMessage() for r in caplog.records)


def test_a_forged_groups_claim_grants_nothing(api, tokens, rogue_key, resign):
    """Megan's genuine claims plus a groups claim naming the mapped group, signed by anyone but Entra."""
    genuine = tokens.user(MEGAN)
    forged = sign_rs256(header_of(genuine), {**claims_of(genuine), "groups": [ORDERS_APPROVERS]}, rogue_key)
    answer = api.get(TENANT_VIEW, headers=bearer(forged))
    assert answer.status_code == 401 and answer.get_json()["error"] == "invalid_token"
    # The same claims with the identity provider's signature do open it: only the signature was wrong above.
    signed = resign({**claims_of(genuine), "groups": [ORDERS_APPROVERS]})
    assert api.get(TENANT_VIEW, headers=bearer(signed)).status_code == 200


@pytest.mark.parametrize("names, overage", [
    pytest.param({"groups": "src1"}, True, id="the-marker"),
    pytest.param('{"groups": "src1"}', True, id="the-marker-as-json-text"),
    pytest.param({"src1": "groups"}, False, id="groups-only-as-a-value"),
    pytest.param({"groupsx": "src1"}, False, id="a-longer-name"),
    pytest.param('"groups"', False, id="a-json-string"),
])
def test_the_overage_marker_is_parsed_never_matched_as_text(api, tokens, control, resign, names, overage):
    """Nestor's claims with only ``_claim_names`` changed (signed by the identity provider): Graph is asked
    exactly when the parsed marker names ``groups``; otherwise the token's (absent) groups count."""
    claims = {**claims_of(tokens.sign_in(NESTOR)["access_token"]), "_claim_names": names}
    since = control.last_seq()
    answer = api.get(TENANT_VIEW, headers=bearer(resign(claims)))
    assert answer.status_code == (200 if overage else 403)
    assert len(membership_lookups(control, since)) == (1 if overage else 0)


def test_a_removed_membership_counts_from_the_next_token(api, tokens, control):
    old = tokens.sign_in(GRACE)["access_token"]
    control.membership(ORDERS_APPROVERS, user=GRACE, present=False)
    assert api.get(TENANT_VIEW, headers=bearer(old)).status_code == 200  # the token says what it says
    fresh = tokens.sign_in(GRACE)["access_token"]
    assert api.get(TENANT_VIEW, headers=bearer(fresh)).status_code == 403


def test_a_removed_membership_of_an_overage_caller_counts_from_the_next_token(api, tokens, control):
    old = tokens.sign_in(NESTOR)["access_token"]
    assert api.get(TENANT_VIEW, headers=bearer(old)).status_code == 200
    control.membership(ORDERS_APPROVERS, member_group="project-team-249", present=False)
    assert api.get(TENANT_VIEW, headers=bearer(old)).status_code == 200  # cached for this token's life
    fresh = tokens.sign_in(NESTOR)["access_token"]
    assert api.get(TENANT_VIEW, headers=bearer(fresh)).status_code == 403


def test_an_app_role_holder_with_an_overage_does_not_wait_on_graph(api, tokens, control):
    control.settings(group_claim_limit=1)
    control.membership("marketing", user="adele@contoso.example")
    control.membership("eu-approvers", user="adele@contoso.example")
    token = tokens.sign_in("adele@contoso.example")["access_token"]
    assert "_claim_names" in claims_of(token) and "Orders.Admin" in claims_of(token)["roles"]
    control.fault("graph", status=503)
    since = control.last_seq()
    assert api.get(TENANT_VIEW, headers=bearer(token)).status_code == 200
    assert lookups_logged(control, since, 0, wait=0) == []


def test_app_only_callers_are_untouched_by_groups(api, tokens, control):
    since = control.last_seq()
    answer = api.get("/api/orders", headers=bearer(tokens.daemon()))
    assert answer.status_code == 200 and answer.get_json()["view"] == "tenant"
    assert membership_lookups(control, since) == []

