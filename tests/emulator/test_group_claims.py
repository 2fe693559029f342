"""The groups claim as groupMembershipClaims asks for it, in ID and access tokens (v1.0 and v2.0),
nested groups included, and the overage marker past the limit in the shape Entra sends."""

from __future__ import annotations

import pytest

from .groups_helpers import (
    CONTOSO_SOCIAL,
    EU_APPROVERS,
    GRACE,
    HOME_TENANT_ID,
    MARKETING,
    MEGAN,
    NESTOR,
    NESTOR_OID,
    NINA,
    ORDERS_APPROVERS,
    graph_token,
    id_and_access_claims,
)
from .helpers import unverified

# The marker Entra puts in place of the claim: an Azure AD Graph URL (access-token-claims-reference).
NESTOR_OVERAGE = {
    "_claim_names": {"groups": "src1"},
    "_claim_sources": {"src1": {"endpoint": f"https://graph.windows.net/{HOME_TENANT_ID}/users/{NESTOR_OID}/getMemberObjects"}},
}


def test_security_groups_by_default_nested_ones_included(emulator, http):
    # The manifest asks for SecurityGroup on both the web app (ID token) and the API (access token).
    for username, expected in [
        (GRACE, [ORDERS_APPROVERS, MARKETING]),
        (NINA, [ORDERS_APPROVERS, EU_APPROVERS]),  # Orders-Approvers only through EU-Approvers
        (MEGAN, [MARKETING]),  # Contoso Social is no security group
    ]:
        id_claims, access_claims = id_and_access_claims(emulator, http, username)
        assert sorted(id_claims["groups"]) == sorted(expected), username
        assert sorted(access_claims["groups"]) == sorted(expected), username
        assert "_claim_names" not in id_claims and "hasgroups" not in id_claims


def test_all_adds_groups_that_are_not_security_groups(emulator, http, control):
    control.group_membership_claims("orders-web", "All")
    id_claims, access_claims = id_and_access_claims(emulator, http, NINA)
    assert sorted(id_claims["groups"]) == sorted([ORDERS_APPROVERS, EU_APPROVERS, CONTOSO_SOCIAL])
    # Each token follows its own registration: the API still asks for security groups only.
    assert sorted(access_claims["groups"]) == sorted([ORDERS_APPROVERS, EU_APPROVERS])


def test_application_group_is_assigned_groups_with_direct_membership_only(emulator, http, control):
    control.group_membership_claims("orders-web", "ApplicationGroup")
    control.group_membership_claims("orders-api", "ApplicationGroup")
    # Grace is a direct member of Orders-Approvers (assigned to both); Marketing is assigned to neither.
    id_claims, access_claims = id_and_access_claims(emulator, http, GRACE)
    assert id_claims["groups"] == [ORDERS_APPROVERS] and access_claims["groups"] == [ORDERS_APPROVERS]
    # Nina reaches Orders-Approvers only by nesting: not with ApplicationGroup. Contoso Social is
    # assigned to the web app only.
    id_claims, access_claims = id_and_access_claims(emulator, http, NINA)
    assert id_claims["groups"] == [CONTOSO_SOCIAL]
    assert "groups" not in access_claims and "_claim_names" not in access_claims


@pytest.mark.parametrize("value", ["None", "none", "DirectoryRole"])
def test_none_and_directory_role_carry_no_groups(emulator, http, control, value):
    control.group_membership_claims("orders-web", value)
    control.group_membership_claims("orders-api", value)
    id_claims, access_claims = id_and_access_claims(emulator, http, GRACE)
    for claims in (id_claims, access_claims):
        assert "groups" not in claims and "_claim_names" not in claims and "_claim_sources" not in claims


def test_unknown_setting_is_refused(http, control):
    resp = http.post(f"{control.base}/registrations/orders-web/group-membership-claims", json={"value": "Everything"})
    assert resp.status_code == 400


@pytest.mark.parametrize("version", [2, 1])
def test_overage_marker_replaces_the_claim_past_200_groups(emulator, http, control, version):
    control.access_token_version("orders-api", version)
    id_claims, access_claims = id_and_access_claims(emulator, http, NESTOR)
    assert access_claims["ver"] == f"{version}.0"
    for claims in (id_claims, access_claims):
        assert "groups" not in claims
        assert {k: claims[k] for k in ("_claim_names", "_claim_sources")} == NESTOR_OVERAGE


def test_the_limit_is_a_setting_and_exactly_the_limit_still_fits(emulator, http, control):
    control.settings(group_claim_limit=2)
    id_claims, _ = id_and_access_claims(emulator, http, GRACE)  # two security groups
    assert sorted(id_claims["groups"]) == sorted([ORDERS_APPROVERS, MARKETING])
    control.settings(group_claim_limit=1)
    id_claims, access_claims = id_and_access_claims(emulator, http, GRACE)
    for claims in (id_claims, access_claims):
        assert "groups" not in claims and claims["_claim_names"] == {"groups": "src1"}
    control.settings(group_claim_limit=None)  # Entra's 200 again
    assert "groups" in id_and_access_claims(emulator, http, GRACE)[0]


def test_overage_endpoint_can_point_at_a_test_url(emulator, http, control):
    control.settings(group_claim_limit=1, group_overage_endpoint="https://trap.example/{tid}/{oid}")
    id_claims, _ = id_and_access_claims(emulator, http, GRACE)
    assert id_claims["_claim_sources"] == {
        "src1": {"endpoint": f"https://trap.example/{HOME_TENANT_ID}/a0000001-0000-4000-8000-000000000003"}}


def test_graph_tokens_carry_no_groups(emulator, http, api_app):
    # Graph is first-party: its registration asks for no groups claim.
    claims = unverified(graph_token(emulator, http, api_app, GRACE))
    assert "groups" not in claims and "_claim_names" not in claims
