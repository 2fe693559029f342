"""The manifest's groups: generated batches, and a typo refused at start-up rather than mid-flow."""

from __future__ import annotations

import pytest

from entra_emulator.manifest import DEFAULT_MANIFEST, ManifestError, load_manifest


def test_the_groups_of_the_development_manifest():
    manifest = load_manifest()
    approvers = manifest.group("Orders-Approvers")
    assert approvers is not None and approvers.id == "f0000006-0000-4000-8000-000000000001"
    assert approvers.app_group_roles == ("Orders.Admin",)
    teams = [g for g in manifest.groups if g.key.startswith("project-team-")]
    assert len(teams) == 249 and teams[-1].display_name == "Project Team 249"
    assert all(g.members == ("nestor@contoso.example",) for g in teams)
    assert {r.key: r.group_membership_claims for r in manifest.registrations if r.group_membership_claims != "None"} \
        == {"orders-api": "SecurityGroup", "orders-web": "SecurityGroup"}


@pytest.mark.parametrize(("old", "new", "problem"), [
    ('members = ["grace@contoso.example"]', 'members = ["graec@contoso.example"]', "member 'graec@contoso.example'"),
    ('member_groups = ["eu-approvers", "project-team-249"]', 'member_groups = ["eu-approver"]', "member group 'eu-approver'"),
    ('assigned_to = ["orders-web", "orders-api"]', 'assigned_to = ["orders-webb"]', "unknown registration 'orders-webb'"),
    ('app_group_roles = ["Orders.Admin"]', 'app_group_roles = ["Orders.Admn"]', "app_group_roles 'Orders.Admn'"),
    ('group_membership_claims = "SecurityGroup"', 'group_membership_claims = "Security"', "group_membership_claims must be"),
    ('id = "f0000006-0000-4000-8000-000000000002"', 'id = "f0000006-0000-4000-8000-000000000001"', "duplicate group ids"),
])
def test_a_dangling_group_reference_is_refused(tmp_path, old, new, problem):
    text = DEFAULT_MANIFEST.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "manifest.toml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ManifestError, match=problem.replace("(", r"\(").replace(".", r"\.")):
        load_manifest(broken)


def test_a_lower_case_setting_is_accepted(tmp_path):
    broken = tmp_path / "manifest.toml"
    broken.write_text(DEFAULT_MANIFEST.read_text(encoding="utf-8").replace(
        'group_membership_claims = "SecurityGroup"', 'group_membership_claims = "securitygroup"', 1), encoding="utf-8")
    assert load_manifest(broken).registration("orders-api").group_membership_claims == "securitygroup"
