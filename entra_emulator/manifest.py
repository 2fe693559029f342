"""The declarative identity landscape: tenants, users, registrations, grants.

One TOML file (``manifest.toml`` beside this module by default) describes
everything the emulator serves. It is loaded into plain dataclasses, checked
for dangling references, and its ``{authority_host}`` / ``{app_base_url}``
placeholders are expanded for the host it is served from.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MANIFEST = Path(__file__).with_name("manifest.toml")
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
# groupMembershipClaims values, as Entra defines them (how-to-connect-fed-group-claims, "Configure the
# Microsoft Entra application registration for group attributes"); Entra reads them case-insensitively.
GROUP_MEMBERSHIP_CLAIMS = ("None", "SecurityGroup", "All", "ApplicationGroup", "DirectoryRole")
# The app id behind that App ID URI (Microsoft's "AAD Token Exchange Endpoint", the same in
# every tenant): a v2.0 token for it carries this GUID as ``aud``.
TOKEN_EXCHANGE_APP_ID = "fb60f99c-7a34-4190-8149-302f77469936"


class ManifestError(ValueError):
    """The manifest is malformed or refers to something it does not define."""


@dataclass(frozen=True)
class Tenant:
    key: str
    id: str
    domain: str
    display_name: str


@dataclass
class User:
    tenant: str
    username: str
    name: str
    oid: str
    roles: list[str]
    given_name: str = ""
    surname: str = ""
    job_title: str = ""
    listed: bool = True  # shown on the account picker and in banners (batch users are not)


@dataclass(frozen=True)
class Scope:
    value: str
    admin_consent_display_name: str = ""
    admin_consent_description: str = ""
    user_consent_display_name: str = ""
    user_consent_description: str = ""


@dataclass(frozen=True)
class AppRole:
    value: str
    display_name: str = ""
    description: str = ""
    allowed_member_types: tuple[str, ...] = ("User",)


@dataclass(frozen=True)
class Credential:
    """A secret (``value``) or a certificate generated under ``name``."""

    type: str
    value: str = ""
    name: str = ""
    expired: bool = False


@dataclass(frozen=True)
class FederatedCredential:
    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]


@dataclass(frozen=True)
class ResourceAccess:
    resource: str
    scopes: tuple[str, ...] = ()
    app_roles: tuple[str, ...] = ()


@dataclass
class Registration:
    key: str
    display_name: str
    client_id: str
    home_tenant: str
    sign_in_audience: str = "AzureADMyOrg"
    identifier_uris: list[str] = field(default_factory=list)
    access_token_version: int = 2  # accessTokenAcceptedVersion: 1 (or null in Entra) gives v1.0 tokens
    require_pkce: bool = False
    first_party: bool = False
    # A resource that implements continuous access evaluation: a client declaring the
    # ``cp1`` capability gets long-lived (20-28 h) tokens for it.
    continuous_access_evaluation: bool = False
    optional_claims: list[str] = field(default_factory=list)  # access-token optional claims, e.g. xms_cc
    # groupMembershipClaims: which groups go in the groups claim of tokens *for* this app (its ID
    # tokens as a client, its access tokens as a resource). One of GROUP_MEMBERSHIP_CLAIMS.
    group_membership_claims: str = "None"
    redirect_uris: list[str] = field(default_factory=list)
    front_channel_logout_url: str = ""
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    scopes: list[Scope] = field(default_factory=list)
    app_roles: list[AppRole] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)
    federated_credentials: list[FederatedCredential] = field(default_factory=list)
    required_resource_access: list[ResourceAccess] = field(default_factory=list)

    @property
    def is_multi_tenant(self) -> bool:
        return self.sign_in_audience != "AzureADMyOrg"

    def scope_values(self) -> set[str]:
        return {s.value for s in self.scopes}

    def role_values(self, member_type: str) -> set[str]:
        return {r.value for r in self.app_roles if member_type in r.allowed_member_types}

    def secrets(self) -> list[str]:
        return [c.value for c in self.credentials if c.type == "secret"]

    def certificate_names(self) -> list[str]:
        return [c.name for c in self.credentials if c.type == "certificate"]


@dataclass(frozen=True)
class Group:
    """A group of a tenant. ``members`` are usernames; ``member_groups`` keys of nested groups."""

    key: str
    tenant: str
    id: str
    display_name: str
    security_enabled: bool = True  # false: a Microsoft 365 / distribution group
    mail_enabled: bool = False
    members: tuple[str, ...] = ()
    member_groups: tuple[str, ...] = ()
    assigned_to: tuple[str, ...] = ()  # registration keys the group is assigned to
    # The roles the *app* gives this group's members (its GROUP_ROLES setting, which the export
    # prints): no Entra property, and nothing the emulator puts in a token.
    app_group_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class ManagedIdentity:
    key: str
    kind: str  # "user-assigned" or "system-assigned"
    tenant: str
    display_name: str
    client_id: str
    principal_id: str


@dataclass(frozen=True)
class DelegatedGrant:
    tenant: str
    client: str
    resource: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class ApplicationGrant:
    tenant: str
    client: str
    resource: str
    roles: tuple[str, ...]


@dataclass
class Manifest:
    tenants: list[Tenant]
    users: list[User]
    registrations: list[Registration]
    managed_identities: list[ManagedIdentity]
    delegated_grants: list[DelegatedGrant]
    application_grants: list[ApplicationGrant]
    source: Path | None = None
    groups: list[Group] = field(default_factory=list)

    # -- look-ups -------------------------------------------------------------
    def tenant(self, key_id_or_domain: str) -> Tenant | None:
        wanted = key_id_or_domain.lower()
        for t in self.tenants:
            if wanted in (t.key, t.id, t.domain.lower()):
                return t
        return None

    def tenant_by_key(self, key: str) -> Tenant:
        found = self.tenant(key)
        if found is None:
            raise ManifestError(f"unknown tenant {key!r}")
        return found

    def registration(self, key_or_client_id: str) -> Registration | None:
        for r in self.registrations:
            if key_or_client_id in (r.key, r.client_id):
                return r
        return None

    def resource_for(self, identifier: str) -> Registration | None:
        """The registration whose App ID URI or client id is ``identifier``."""
        ident = identifier.rstrip("/")
        for r in self.registrations:
            if ident == r.client_id or ident in (u.rstrip("/") for u in r.identifier_uris):
                return r
        return None

    def user(self, username_or_oid: str) -> User | None:
        wanted = username_or_oid.lower()
        for u in self.users:
            if wanted in (u.username.lower(), u.oid):
                return u
        return None

    def users_of(self, tenant_key: str) -> list[User]:
        return [u for u in self.users if u.tenant == tenant_key]

    def group(self, key_id_or_name: str) -> Group | None:
        """A group by key, object id or display name (case-insensitive)."""
        wanted = key_id_or_name.lower()
        return next((g for g in self.groups if wanted in (g.key, g.id, g.display_name.lower())), None)

    def managed_identity(self, client_id: str | None = None, principal_id: str | None = None) -> ManagedIdentity | None:
        for mi in self.managed_identities:
            if client_id and mi.client_id == client_id:
                return mi
            if principal_id and mi.principal_id == principal_id:
                return mi
        if client_id is None and principal_id is None:
            return next((mi for mi in self.managed_identities if mi.kind == "system-assigned"), None)
        return None

    def consented_scopes(self, tenant_key: str, client: Registration, resource: Registration) -> set[str]:
        granted: set[str] = set()
        for g in self.delegated_grants:
            if g.tenant == tenant_key and g.client == client.key and g.resource == resource.key:
                granted.update(g.scopes)
        return granted

    def granted_app_roles(self, tenant_key: str, client: Registration, resource: Registration) -> set[str]:
        granted: set[str] = set()
        for g in self.application_grants:
            if g.tenant == tenant_key and g.client == client.key and g.resource == resource.key:
                granted.update(g.roles)
        return granted

    def is_provisioned_in(self, registration: Registration, tenant_key: str) -> bool:
        """Whether the app has a service principal in the tenant."""
        return registration.home_tenant == tenant_key or registration.is_multi_tenant


def load_manifest(
    path: Path | str | None = None,
    *,
    authority_host: str = "https://127.0.0.1:5443",
    app_base_urls: list[str] | tuple[str, ...] = ("http://localhost:5000",),
) -> Manifest:
    """Load, expand and check a manifest file."""
    path = Path(path) if path else DEFAULT_MANIFEST
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc}") from exc
    authority_host = authority_host.rstrip("/")
    bases = [b.rstrip("/") for b in app_base_urls]

    def expand(value: str) -> str:
        return value.replace("{authority_host}", authority_host)

    def expand_uris(values: list[str]) -> list[str]:
        out: list[str] = []
        for v in values:
            v = expand(v)
            if "{app_base_url}" in v:
                out.extend(v.replace("{app_base_url}", b) for b in bases)
            else:
                out.append(v)
        return out

    try:
        tenants = [Tenant(**t) for t in raw.get("tenants", [])]
        users = [User(**{**u, "roles": list(u.get("roles", []))}) for u in raw.get("users", [])]
        for batch in raw.get("user_batches", []):
            tenant = next(t for t in tenants if t.key == batch["tenant"])
            for n in range(1, int(batch["count"]) + 1):
                users.append(
                    User(
                        tenant=tenant.key,
                        username=f"{batch['prefix']}{n:02d}@{tenant.domain}",
                        name=f"Load User {n:02d}",
                        given_name="Load",
                        surname=f"User {n:02d}",
                        oid=f"{batch['oid_prefix']}{n:012d}",
                        roles=list(batch.get("roles", [])),
                        listed=False,
                    )
                )
        groups = [_group(g) for g in raw.get("groups", [])]
        for batch in raw.get("group_batches", []):
            for n in range(1, int(batch["count"]) + 1):
                groups.append(
                    _group(
                        {
                            "tenant": batch["tenant"],
                            "key": f"{batch['key_prefix']}{n:03d}",
                            "id": f"{batch['id_prefix']}{n:012d}",
                            "display_name": f"{batch['display_name_prefix']}{n:03d}",
                            **{k: batch[k] for k in ("security_enabled", "mail_enabled", "members", "member_groups",
                                                     "assigned_to") if k in batch},
                        }
                    )
                )
        registrations = []
        for r in raw.get("registrations", []):
            r = dict(r)
            front_channel = expand_uris([r.pop("front_channel_logout_url", "")] if r.get("front_channel_logout_url") else [])
            registrations.append(
                Registration(
                    **{
                        k: v
                        for k, v in r.items()
                        if k
                        not in {
                            "scopes",
                            "app_roles",
                            "credentials",
                            "federated_credentials",
                            "required_resource_access",
                            "redirect_uris",
                            "post_logout_redirect_uris",
                        }
                    },
                    front_channel_logout_url=front_channel[0] if front_channel else "",
                    redirect_uris=expand_uris(r.get("redirect_uris", [])),
                    post_logout_redirect_uris=expand_uris(r.get("post_logout_redirect_uris", [])),
                    scopes=[Scope(**s) for s in r.get("scopes", [])],
                    app_roles=[
                        AppRole(**{**a, "allowed_member_types": tuple(a.get("allowed_member_types", ["User"]))})
                        for a in r.get("app_roles", [])
                    ],
                    credentials=[Credential(**c) for c in r.get("credentials", [])],
                    federated_credentials=[
                        FederatedCredential(
                            name=f["name"],
                            issuer=expand(f["issuer"]),
                            subject=f["subject"],
                            audiences=tuple(f.get("audiences", [TOKEN_EXCHANGE_AUDIENCE])),
                        )
                        for f in r.get("federated_credentials", [])
                    ],
                    required_resource_access=[
                        ResourceAccess(
                            resource=a["resource"],
                            scopes=tuple(a.get("scopes", [])),
                            app_roles=tuple(a.get("app_roles", [])),
                        )
                        for a in r.get("required_resource_access", [])
                    ],
                )
            )
        managed = [ManagedIdentity(**m) for m in raw.get("managed_identities", [])]
        delegated = [
            DelegatedGrant(g["tenant"], g["client"], g["resource"], tuple(g["scopes"]))
            for g in raw.get("delegated_grants", [])
        ]
        application = [
            ApplicationGrant(g["tenant"], g["client"], g["resource"], tuple(g["roles"]))
            for g in raw.get("application_grants", [])
        ]
    except (TypeError, KeyError, StopIteration) as exc:
        raise ManifestError(f"manifest {path} is malformed: {exc!r}") from exc

    manifest = Manifest(tenants, users, registrations, managed, delegated, application, source=path, groups=groups)
    _check(manifest)
    return manifest


def _group(raw: dict) -> Group:
    return Group(
        **{k: v for k, v in raw.items() if k not in ("members", "member_groups", "assigned_to", "app_group_roles")},
        app_group_roles=tuple(raw.get("app_group_roles", [])),
        members=tuple(raw.get("members", [])),
        member_groups=tuple(raw.get("member_groups", [])),
        assigned_to=tuple(raw.get("assigned_to", [])),
    )


def _check_groups(m: Manifest, problems: list[str]) -> None:
    tenant_keys = {t.key for t in m.tenants}
    reg_keys = {r.key for r in m.registrations}
    by_key = {g.key: g for g in m.groups}
    if len(by_key) != len(m.groups):
        problems.append("duplicate group keys")
    if len({g.id for g in m.groups}) != len(m.groups):
        problems.append("duplicate group ids")
    for g in m.groups:
        if g.tenant not in tenant_keys:
            problems.append(f"group {g.key}: unknown tenant {g.tenant!r}")
        for name in g.members:
            user = m.user(name)
            if user is None or user.tenant != g.tenant:
                problems.append(f"group {g.key}: member {name!r} is no user of its tenant")
        for key in g.member_groups:
            if key not in by_key or by_key[key].tenant != g.tenant:
                problems.append(f"group {g.key}: member group {key!r} is no group of its tenant")
        for key in g.assigned_to:
            if key not in reg_keys:
                problems.append(f"group {g.key}: assigned to unknown registration {key!r}")
        for role in g.app_group_roles:
            if not any(role in r.role_values("User") for r in m.registrations):
                problems.append(f"group {g.key}: app_group_roles {role!r} is no user role of any registration")
    for r in m.registrations:
        if r.group_membership_claims.lower() not in {v.lower() for v in GROUP_MEMBERSHIP_CLAIMS}:
            problems.append(f"registration {r.key}: group_membership_claims must be one of {GROUP_MEMBERSHIP_CLAIMS}")


def _check(m: Manifest) -> None:
    """Refuse dangling references, so a typo fails at start-up, not mid-flow."""
    problems: list[str] = []
    tenant_keys = {t.key for t in m.tenants}
    reg_keys = {r.key for r in m.registrations}
    if len({u.username.lower() for u in m.users}) != len(m.users):
        problems.append("duplicate usernames")
    if len({u.oid for u in m.users}) != len(m.users):
        problems.append("duplicate user oids")
    for u in m.users:
        if u.tenant not in tenant_keys:
            problems.append(f"user {u.username}: unknown tenant {u.tenant!r}")
    for r in m.registrations:
        if r.home_tenant not in tenant_keys:
            problems.append(f"registration {r.key}: unknown tenant {r.home_tenant!r}")
        if r.access_token_version not in (1, 2):
            problems.append(f"registration {r.key}: access_token_version must be 1 or 2")
        for c in r.credentials:
            if c.type not in ("secret", "certificate"):
                problems.append(f"registration {r.key}: credential type {c.type!r}")
        for a in r.required_resource_access:
            if a.resource not in reg_keys:
                problems.append(f"registration {r.key}: requires unknown resource {a.resource!r}")
    _check_groups(m, problems)
    for mi in m.managed_identities:
        if mi.tenant not in tenant_keys:
            problems.append(f"managed identity {mi.key}: unknown tenant {mi.tenant!r}")
    for g in [*m.delegated_grants, *m.application_grants]:
        if g.tenant not in tenant_keys or g.client not in reg_keys or g.resource not in reg_keys:
            problems.append(f"grant {g}: unknown tenant or registration")
            continue
        resource = m.registration(g.resource)
        assert resource is not None
        if isinstance(g, DelegatedGrant):
            missing = set(g.scopes) - resource.scope_values()
        else:
            missing = set(g.roles) - resource.role_values("Application")
        if missing:
            problems.append(f"grant {g.client}->{g.resource}: {sorted(missing)} not exposed by {g.resource}")
    if problems:
        raise ManifestError("manifest problems: " + "; ".join(problems))
