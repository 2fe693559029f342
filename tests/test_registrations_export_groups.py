"""The registrations export for security groups (issue #19): ``groupMembershipClaims`` on the web and API
registrations, the mapped groups as Graph ``group`` bodies, and the ``GROUP_ROLES`` the manifest implies."""

from __future__ import annotations

import json

import pytest

import config
from entra_auth.group_roles import parse_group_roles
from entra_emulator.manifest import load_manifest
from registrations_export import export_registrations

BASE = "https://orders.contoso.example"
# https://learn.microsoft.com/graph/api/resources/application: groupMembershipClaims' documented values.
GROUP_MEMBERSHIP_CLAIMS = {"None", "SecurityGroup", "All", "ApplicationGroup", "DirectoryRole"}
# https://learn.microsoft.com/graph/api/group-post-groups: the properties a group body may carry (subset).
GROUP_BODY_PROPERTIES = {"displayName", "description", "mailEnabled", "mailNickname", "securityEnabled",
                         "groupTypes", "owners@odata.bind", "members@odata.bind"}
ORDERS_APPROVERS = "f0000006-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def doc() -> dict:
    return export_registrations(app_base_urls=[BASE])


def test_the_web_and_api_registrations_ask_for_security_groups(doc):
    claims = {app["displayName"]: app.get("groupMembershipClaims") for app in doc["applications"]}
    # The SPA's own tokens need no groups: the API reads them from the access token its registration shapes.
    assert claims == {"Orders API": "SecurityGroup", "Orders web": "SecurityGroup", "Orders daemon": None,
                      "Orders SPA": None}
    assert set(filter(None, claims.values())) <= GROUP_MEMBERSHIP_CLAIMS


def test_the_mapped_groups_are_graph_bodies_and_group_roles_maps_them(doc):
    [group] = doc["groups"]
    assert set(group) <= GROUP_BODY_PROPERTIES
    assert group["displayName"] == "Orders-Approvers" and group["securityEnabled"] is True
    assert group["mailEnabled"] is False and group["mailNickname"].isalnum()
    setting = doc["appSettings"]["GROUP_ROLES"]
    assert json.loads(setting) == {"{orders-approvers-group-id}": "Orders.Admin"}
    # Filled in with an object id, it is a map the app accepts.
    filled = setting.replace("{orders-approvers-group-id}", "3f2504e0-4f89-41d3-9a0c-0305e82c3301")
    assert parse_group_roles(filled) == {"3f2504e0-4f89-41d3-9a0c-0305e82c3301": ("Orders.Admin",)}
    notes = " ".join(doc["notes"])
    assert "{orders-approvers-group-id} replaced by the object id of 'Orders-Approvers'" in notes
    assert "groupMembershipClaims is set on Orders API (SecurityGroup), Orders web (SecurityGroup)" in notes


def test_development_maps_what_the_manifest_implies(doc):
    """The emulator's group ids in place of the placeholders give development's GROUP_ROLES exactly."""
    manifest = load_manifest(None, authority_host="https://login.microsoftonline.com", app_base_urls=[BASE])
    setting = doc["appSettings"]["GROUP_ROLES"]
    for group in manifest.groups:
        setting = setting.replace(f"{{{group.key}-group-id}}", group.id)
    assert parse_group_roles(setting) == parse_group_roles(config.DevelopmentConfig.GROUP_ROLES)
    assert parse_group_roles(setting) == {ORDERS_APPROVERS: ("Orders.Admin",)}
