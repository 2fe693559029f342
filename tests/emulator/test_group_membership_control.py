"""The control call that adds or removes a group membership at runtime: it shows in the next
token and the next Graph answer, never in a token issued before, and the reset undoes it."""

from __future__ import annotations

from .groups_helpers import (
    GRACE,
    MARKETING,
    MEGAN,
    NESTOR,
    ORDERS_APPROVERS,
    PROJECT_TEAM_249,
    graph_token,
    id_and_access_claims,
    sign_in,
)
from .helpers import unverified


def _member_objects(emulator, http, token: str) -> list[str]:
    resp = http.post(f"{emulator.url}/v1.0/me/getMemberObjects", json={"securityEnabledOnly": True},
                     headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return resp.json()["value"]


def test_a_removed_member_loses_the_group_in_the_next_token_only(emulator, http, control):
    before = sign_in(emulator, http, GRACE)
    answer = control.membership("orders-approvers", user=GRACE, present=False)
    assert answer == {"group": ORDERS_APPROVERS, "member": "a0000001-0000-4000-8000-000000000003", "member_of": False}
    id_claims, access_claims = id_and_access_claims(emulator, http, GRACE)
    assert id_claims["groups"] == [MARKETING] and access_claims["groups"] == [MARKETING]
    # A token issued before is what it was: the change takes effect at the next token.
    assert ORDERS_APPROVERS in unverified(before["access_token"])["groups"]


def test_an_added_member_and_an_added_nested_group(emulator, http, control, api_app):
    control.membership("Orders-Approvers", user=MEGAN)  # by display name too
    assert ORDERS_APPROVERS in id_and_access_claims(emulator, http, MEGAN)[1]["groups"]
    control.membership("orders-approvers", user=MEGAN, present=False)
    assert ORDERS_APPROVERS not in id_and_access_claims(emulator, http, MEGAN)[1]["groups"]
    control.membership(ORDERS_APPROVERS, member_group="marketing")  # by object id; Megan is in Marketing
    assert ORDERS_APPROVERS in _member_objects(emulator, http, graph_token(emulator, http, api_app, MEGAN))


def test_removing_the_nested_path_of_the_250_group_user(emulator, http, control, api_app):
    token = graph_token(emulator, http, api_app, NESTOR)
    assert ORDERS_APPROVERS in _member_objects(emulator, http, token)
    control.membership("orders-approvers", member_group="project-team-249", present=False)
    ids = _member_objects(emulator, http, token)  # Graph answers from the directory now, whatever the token
    assert ORDERS_APPROVERS not in ids and PROJECT_TEAM_249 in ids and len(ids) == 249


def test_the_reset_restores_the_manifest(emulator, http, control):
    control.membership("orders-approvers", user=GRACE, present=False)
    emulator.emulator.state.reset()
    assert ORDERS_APPROVERS in id_and_access_claims(emulator, http, GRACE)[0]["groups"]


def test_groups_are_listed_with_their_members_now(http, control):
    control.membership("eu-approvers", user=GRACE)
    groups = {g["key"]: g for g in http.get(f"{control.base}/groups").json()["groups"]}
    assert len(groups) == 253
    assert groups["orders-approvers"]["members"] == sorted([
        "a0000001-0000-4000-8000-000000000003", "f0000006-0000-4000-8000-000000000002", PROJECT_TEAM_249])
    assert "a0000001-0000-4000-8000-000000000003" in groups["eu-approvers"]["members"]
    assert groups["contoso-social"]["security_enabled"] is False
    assert [key for key, g in groups.items() if g["app_group_roles"]] == ["orders-approvers"]
    assert groups["orders-approvers"]["app_group_roles"] == ["Orders.Admin"]


def test_what_the_control_call_refuses(http, control):
    def post(group: str, body: dict) -> int:
        return http.post(f"{control.base}/groups/{group}/members", json=body).status_code

    assert post("no-such-group", {"user": GRACE}) == 404
    assert post("orders-approvers", {"user": "nobody@contoso.example"}) == 404
    assert post("orders-approvers", {"user": "lee@fabrikam.example"}) == 404  # another tenant's user
    assert post("orders-approvers", {"user": GRACE, "group": "marketing"}) == 400
    assert post("orders-approvers", {}) == 400
    assert post("orders-approvers", {"user": GRACE, "remove": "yes"}) == 400
    assert post("orders-approvers", {"group": "orders-approvers"}) == 400


def test_a_membership_cycle_ends(emulator, http, control, api_app):
    # Entra refuses cycles; a test can still make one, and the walk must end (each group once).
    control.membership("eu-approvers", member_group="orders-approvers")
    ids = _member_objects(emulator, http, graph_token(emulator, http, api_app, GRACE))
    assert sorted(ids) == sorted([ORDERS_APPROVERS, "f0000006-0000-4000-8000-000000000002", MARKETING])
