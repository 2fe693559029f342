"""Group membership as Entra computes it: direct and nested, with a test's runtime changes,
and the ``groups`` claim (or its overage marker) that a registration's
``groupMembershipClaims`` asks for.

Entra's rules followed here (Microsoft Learn, "Configure group claims for applications by
using Microsoft Entra ID" and the access-token claims reference):

- ``SecurityGroup``: every security group the user is in, nested ones included;
  ``All``: Microsoft 365 / distribution groups as well; ``ApplicationGroup``: only groups
  assigned to the app that the user is a *direct* member of; ``None`` (and
  ``DirectoryRole``, which emits ``wids`` instead, not played here): no groups claim.
- Past the limit (200 in a JWT) the token carries no ``groups`` at all, only
  ``_claim_names``/``_claim_sources`` naming an Azure AD Graph ``getMemberObjects`` URL.
"""

from __future__ import annotations

from .manifest import Group, Manifest, Registration, User
from .state import EmulatorState

# Entra's limit of group ids in a JWT (how-to-connect-fed-group-claims: "150 for SAML assertions and
# 200 for JWT, including nested groups"). The emulator's setting ``group_claim_limit`` lowers it for tests.
JWT_GROUP_LIMIT = 200
# What Entra puts in _claim_sources: "The URL returned will be an Azure AD Graph URL (i.e.,
# graph.windows.net)" (access-token-claims-reference, "Groups overage claim"), as real v1.0 tokens show.
OVERAGE_ENDPOINT = "https://graph.windows.net/{tid}/users/{oid}/getMemberObjects"


class GroupDirectory:
    """Who is in which group: the manifest's memberships plus those a test added or removed."""

    def __init__(self, manifest: Manifest, state: EmulatorState):
        self.manifest = manifest
        self.state = state
        # Members as object ids: users by oid, nested groups by group id.
        self._base: dict[str, set[str]] = {}
        for g in manifest.groups:
            users = {u.oid for u in map(manifest.user, g.members) if u is not None}
            nested = {child.id for child in map(manifest.group, g.member_groups) if child is not None}
            self._base[g.id] = users | nested

    def members(self, group: Group) -> set[str]:
        """Direct members' object ids (users and groups), runtime changes applied."""
        return self._memberships()[group.id]

    def _memberships(self) -> dict[str, set[str]]:
        """Every group's direct members now: the manifest's, with the test's changes applied."""
        members = {group_id: set(ids) for group_id, ids in self._base.items()}
        with self.state.lock:
            changes = list(self.state.membership_changes.items())
        for (group_id, member_id), present in changes:
            (members[group_id].add if present else members[group_id].discard)(member_id)
        return members

    def direct_groups(self, object_id: str) -> list[Group]:
        """Groups the user or group is a direct member of, in manifest order."""
        memberships = self._memberships()
        return [g for g in self.manifest.groups if object_id in memberships[g.id]]

    def transitive_groups(self, object_id: str) -> list[Group]:
        """Every group reached through membership, nested ones included, each once (cycles end)."""
        parents: dict[str, list[str]] = {}
        for group_id, members in self._memberships().items():
            for member in members:
                parents.setdefault(member, []).append(group_id)
        reached: set[str] = set()
        frontier = [object_id]
        while frontier:
            member = frontier.pop()
            for group_id in parents.get(member, []):
                if group_id not in reached:
                    reached.add(group_id)
                    frontier.append(group_id)
        return [g for g in self.manifest.groups if g.id in reached]

    def membership_claims_setting(self, registration: Registration) -> str:
        """The registration's groupMembershipClaims (manifest, or a test's runtime switch), lower-cased."""
        return self.state.group_membership_claims.get(registration.key, registration.group_membership_claims).lower()

    def claim_group_ids(self, user: User, registration: Registration) -> list[str]:
        """The group ids a token for ``registration`` would list for ``user`` (before the limit)."""
        setting = self.membership_claims_setting(registration)
        if setting == "securitygroup":
            return [g.id for g in self.transitive_groups(user.oid) if g.security_enabled]
        if setting == "all":
            return [g.id for g in self.transitive_groups(user.oid)]
        if setting == "applicationgroup":
            # "nested groups are not included and the user must be a direct member of the group
            # assigned to the application" (how-to-connect-fed-group-claims).
            return [g.id for g in self.direct_groups(user.oid) if registration.key in g.assigned_to]
        return []  # "none"; "directoryrole" emits wids, not groups

    def token_claims(self, user: User, registration: Registration, tenant_id: str) -> dict:
        """The ``groups`` claim, or the overage marker past the limit; nothing when no group applies."""
        ids = self.claim_group_ids(user, registration)
        if not ids:
            return {}  # Entra omits a claim that has no value
        limit = self.state.settings.get("group_claim_limit") or JWT_GROUP_LIMIT
        if len(ids) <= limit:
            return {"groups": ids}
        endpoint = (self.state.group_overage_endpoint or OVERAGE_ENDPOINT).replace("{tid}", tenant_id)
        return {
            "_claim_names": {"groups": "src1"},
            "_claim_sources": {"src1": {"endpoint": endpoint.replace("{oid}", user.oid)}},
        }

    def set_membership(self, group: Group, member_id: str, present: bool) -> None:
        with self.state.lock:
            self.state.membership_changes[(group.id, member_id)] = present
