"""Export the development manifest as Microsoft Graph ``application`` payloads.

DESIGN.md: one declarative manifest drives the emulator, and the same file can
be exported as the payloads needed to create the registrations in a real
tenant. :func:`export_registrations` turns ``entra_emulator/manifest.toml``
into the bodies a person POSTs to ``https://graph.microsoft.com/v1.0/applications``
(and to ``.../federatedIdentityCredentials``), plus notes for what Graph cannot
take from a file: app ids Entra assigns, certificates, consent.

Graph v1.0 pages this follows:
https://learn.microsoft.com/graph/api/resources/application?view=graph-rest-1.0
https://learn.microsoft.com/graph/api/resources/federatedidentitycredential?view=graph-rest-1.0

Nothing secret is exported: client secrets and emulator-generated certificates
stay local, and the emulator's own ids (client ids, tenant ids, managed
identity ids) are replaced by documented placeholders.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

if TYPE_CHECKING:  # typing only: importing the emulator at run time happens inside the export
    from entra_emulator.manifest import FederatedCredential, Manifest, Registration

GRAPH_APPLICATIONS_URL = "https://graph.microsoft.com/v1.0/applications"
MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
AZURE_STORAGE_APP_ID = "e406a681-f3d4-42a8-90b6-c2b029497af1"
FIRST_PARTY_NAMES = {MICROSOFT_GRAPH_APP_ID: "Microsoft Graph", AZURE_STORAGE_APP_ID: "Azure Storage"}

# Real permission ids of first-party resources, keyed by (resource appId,
# "Scope"/"Role", value). The emulated Graph registration is not exported, so
# a client's requiredResourceAccess must name Graph's published ids; a value
# missing here fails the export rather than emitting a made-up id.
# https://learn.microsoft.com/graph/permissions-reference#userread
FIRST_PARTY_PERMISSION_IDS: dict[tuple[str, str, str], str] = {
    (MICROSOFT_GRAPH_APP_ID, "Scope", "User.Read"): "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
    # Azure Storage's user_impersonation, as its service principal publishes it in every tenant
    # (oauth2PermissionScopes of appId e406a681-...; not in a Microsoft permissions reference).
    (AZURE_STORAGE_APP_ID, "Scope", "user_impersonation"): "03e0da56-190b-40ad-a80c-ea378c433f7f",
}

# uuid5 namespace for scope and app-role ids: the same manifest yields the same
# ids on every run, so re-applying the export updates permissions in place
# instead of creating new ones (Graph keys them by id, not by value).
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:orders-entra-reference:registrations-export")

# Short placeholder names for the sample's registrations ({api-app-id}); any
# other registration key is used as it is ({<key>-app-id}).
_PLACEHOLDER_NAMES = {"orders-api": "api", "orders-web": "web", "orders-spa": "spa"}

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{[A-Za-z0-9._-]+\}")
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


def export_registrations(
    manifest_path: Path | None = None,
    *,
    app_base_urls: list[str],
    authority_host: str = "https://login.microsoftonline.com",
    tenant_id: str | None = None,
    spa_base_urls: list[str] | None = None,
    tenant_kind: str = "workforce",
) -> dict[str, Any]:
    """Build the Graph payloads that create the manifest's registrations in a real tenant.

    ``app_base_urls`` are the web app's public base URLs (its redirect URIs and
    front-channel logout URL are built from them); ``authority_host`` is the
    Entra host the managed identity's tokens come from (sovereign clouds differ);
    ``tenant_id`` is the directory id of the home tenant, or ``None`` to leave a
    ``{tenant-id}`` placeholder; ``spa_base_urls`` are further origins the
    single-page client is served from (its ``spa`` redirect URIs; none by default);
    ``tenant_kind`` picks the registrations homed in
    a tenant of that kind (``workforce``, or ``external`` for External ID): each
    kind is created in its own tenant.

    Returns a JSON-serialisable document::

        {"applications": [<POST /v1.0/applications body>, ...],   # resources first
         "federatedIdentityCredentials": {<displayName>: [<body>, ...]},
         "placeholders": {"{api-app-id}": {...how to fill it...}, ...},
         "groups": [<POST /v1.0/groups body of a group the app maps to roles>, ...],
         "appSettings": {"GROUP_ROLES": "<the JSON setting, group ids as placeholders>"},
         "notes": ["1. ...", ...]}

    Raises ``ValueError`` (``ManifestError`` included) for an unusable URL or
    tenant id, or a permission the export cannot resolve to a real id.
    """
    # The export is a development tool: the emulator package is imported here,
    # never at module level, so the serving app never imports the emulator.
    from entra_emulator.manifest import load_manifest

    bases = normalise_base_urls(app_base_urls)
    authority_host = _check_authority_host(authority_host)
    if tenant_id is not None and not _GUID.match(tenant_id):
        # The issuer of a managed identity's token names the tenant by its id, never by a domain or alias.
        raise ValueError(f"tenant id {tenant_id!r} must be the directory (tenant) id, a GUID")
    spa_bases = normalise_base_urls(spa_base_urls) if spa_base_urls else []
    manifest = load_manifest(manifest_path, authority_host=authority_host, app_base_urls=bases, spa_base_urls=spa_bases)

    # Graph and Azure Storage are first party (they exist in every tenant): only our own registrations are created.
    exported = [r for r in manifest.registrations
                if not r.first_party and manifest.tenant_by_key(r.home_tenant).kind == tenant_kind]
    # Resources before their clients: a client's requiredResourceAccess needs the resource's appId.
    exported.sort(key=lambda r: 0 if (r.scopes or r.identifier_uris) else 1)
    placeholders = {r.key: _app_id_placeholder(r) for r in exported}

    applications = [_application_body(manifest, r, placeholders) for r in exported]
    credentials: dict[str, list[dict[str, Any]]] = {}
    subjects: dict[str, str] = {}
    for r in exported:
        bodies = [_federated_credential_body(manifest, r, f, tenant_id, subjects) for f in r.federated_credentials]
        if bodies:
            credentials[r.display_name] = bodies

    doc: dict[str, Any] = {"applications": applications, "federatedIdentityCredentials": credentials}
    doc["placeholders"] = _describe_placeholders(doc, manifest, placeholders, subjects, authority_host)
    doc["groups"], doc["appSettings"] = _mapped_groups(manifest)
    doc["notes"] = _notes(manifest, exported, bases, authority_host)
    return doc


def _group_placeholder(group) -> str:
    return f"{{{group.key}-group-id}}"


def _mapped_groups(manifest: Manifest) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The groups the app gives roles (``app_group_roles`` in the manifest) as Graph ``group`` bodies, and the
    ``GROUP_ROLES`` setting that maps them, with each group id a placeholder (Entra assigns object ids)."""
    mapped = [g for g in manifest.groups if g.app_group_roles]
    bodies = [{
        "displayName": g.display_name,
        "description": f"Members get the {', '.join(g.app_group_roles)} role(s) of the Orders app (its GROUP_ROLES).",
        # https://learn.microsoft.com/graph/api/group-post-groups: a security group is mailEnabled false.
        "mailEnabled": g.mail_enabled,
        "mailNickname": re.sub(r"[^A-Za-z0-9]", "", g.display_name) or g.key,
        "securityEnabled": g.security_enabled,
    } for g in mapped]
    settings = {"GROUP_ROLES": json.dumps({_group_placeholder(g): (g.app_group_roles[0] if len(g.app_group_roles) == 1
                                                                  else list(g.app_group_roles)) for g in mapped})}
    return bodies, settings if mapped else {}


def normalise_base_urls(app_base_urls: list[str] | tuple[str, ...]) -> list[str]:
    """Check the web app's base URLs the way Entra checks redirect URIs; return them without trailing slash.

    Entra accepts ``http://`` only for loopback hosts, and a redirect URI has no
    query or fragment.
    """
    if not app_base_urls:
        raise ValueError("at least one app base URL is needed (the web app's public URL, e.g. https://orders.contoso.com)")
    out: list[str] = []
    for raw in app_base_urls:
        url = raw.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"app base URL {raw!r} must be an absolute https:// URL")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
            raise ValueError(f"app base URL {raw!r}: Entra accepts http:// redirect URIs only for localhost; use https://")
        if parts.query or parts.fragment:
            raise ValueError(f"app base URL {raw!r} must not have a query or fragment")
        if url not in out:
            out.append(url)
    return out


# -- application bodies --------------------------------------------------------


def _application_body(manifest: Manifest, reg: Registration, placeholders: dict[str, str]) -> dict[str, Any]:
    """The POST /applications body of one registration (Graph v1.0 ``application``)."""
    body: dict[str, Any] = {"displayName": reg.display_name, "signInAudience": reg.sign_in_audience}
    if reg.group_membership_claims.lower() != "none":
        # The groups claim in this app's tokens (ID tokens as a client, access tokens as a resource).
        body["groupMembershipClaims"] = reg.group_membership_claims
    if reg.identifier_uris:
        # appId is assigned by Entra on creation; the emulator's client id is local.
        body["identifierUris"] = [u.replace(reg.client_id, placeholders[reg.key]) for u in reg.identifier_uris]
    if reg.scopes or reg.identifier_uris:
        body["api"] = {
            "requestedAccessTokenVersion": reg.access_token_version,
            "oauth2PermissionScopes": [
                {
                    "id": _stable_id(reg, "scope", s.value),
                    "value": s.value,
                    # Scopes with user-consent text are user-consentable; the rest need an admin.
                    "type": "User" if s.user_consent_display_name else "Admin",
                    "adminConsentDisplayName": s.admin_consent_display_name or s.value,
                    "adminConsentDescription": s.admin_consent_description or s.value,
                    **(
                        {
                            "userConsentDisplayName": s.user_consent_display_name,
                            "userConsentDescription": s.user_consent_description or s.user_consent_display_name,
                        }
                        if s.user_consent_display_name
                        else {}
                    ),
                    "isEnabled": True,
                }
                for s in reg.scopes
            ],
        }
    if reg.app_roles:
        body["appRoles"] = [
            {
                "id": _stable_id(reg, "role", a.value),
                "value": a.value,
                "displayName": a.display_name or a.value,
                "description": a.description or a.display_name or a.value,
                "allowedMemberTypes": list(a.allowed_member_types),
                "isEnabled": True,
            }
            for a in reg.app_roles
        ]
    if reg.redirect_uris or reg.front_channel_logout_url:
        web: dict[str, Any] = {
            # Entra matches post_logout_redirect_uri against the redirect URIs, so those are registered too.
            "redirectUris": _unique([*reg.redirect_uris, *reg.post_logout_redirect_uris]),
            # Code flow only: tokens never travel in the front channel.
            "implicitGrantSettings": {"enableIdTokenIssuance": False, "enableAccessTokenIssuance": False},
        }
        if reg.front_channel_logout_url:
            web["logoutUrl"] = reg.front_channel_logout_url
        body["web"] = web
    if reg.spa_redirect_uris:
        # Graph's spaApplication: codes for these URIs are redeemed by the browser (PKCE, no secret),
        # and Entra matches post_logout_redirect_uri against them too.
        body["spa"] = {"redirectUris": _unique([*reg.spa_redirect_uris, *reg.post_logout_redirect_uris])}
    required = _required_resource_access(manifest, reg, placeholders)
    if required:
        body["requiredResourceAccess"] = required
    return body


def _required_resource_access(
    manifest: Manifest, reg: Registration, placeholders: dict[str, str]
) -> list[dict[str, Any]]:
    """requiredResourceAccess: what the manifest declares plus what it grants.

    The consent grants count too: the API's on-behalf-of call to Graph only
    works in a real tenant if the API registration asks for ``User.Read``.
    """
    wanted: dict[str, dict[str, list[str]]] = {}  # resource key -> {"Scope": [...], "Role": [...]}; insertion-ordered

    def add(resource: str, kind: str, values: tuple[str, ...]) -> None:
        bucket = wanted.setdefault(resource, {"Scope": [], "Role": []})[kind]
        bucket.extend(v for v in values if v not in bucket)

    for a in reg.required_resource_access:
        add(a.resource, "Scope", a.scopes)
        add(a.resource, "Role", a.app_roles)
    for g in _exported_grants(manifest):
        if g.client == reg.key:
            add(g.resource, "Scope", g.scopes)
    for g in manifest.application_grants:
        if g.client == reg.key:
            add(g.resource, "Role", g.roles)

    out: list[dict[str, Any]] = []
    for resource_key, kinds in wanted.items():
        resource = manifest.registration(resource_key)
        assert resource is not None  # load_manifest refuses dangling references
        access = [
            {"id": _permission_id(resource, kind, value), "type": kind}
            for kind in ("Scope", "Role")
            for value in kinds[kind]
        ]
        if access:
            app_id = resource.client_id if resource.first_party else placeholders[resource.key]
            out.append({"resourceAppId": app_id, "resourceAccess": access})
    return out


def _permission_id(resource: Registration, kind: str, value: str) -> str:
    """The id of a scope or app role a client asks for, as the real tenant will know it."""
    if resource.first_party:
        known = FIRST_PARTY_PERMISSION_IDS.get((resource.client_id, kind, value))
        if known is None:
            raise ValueError(
                f"{resource.display_name} permission {value!r} ({kind}) has no known real id; "
                "add it to FIRST_PARTY_PERMISSION_IDS from the Graph permissions reference"
            )
        return known
    exposed = resource.scope_values() if kind == "Scope" else resource.role_values("Application")
    if value not in exposed:
        what = "scope" if kind == "Scope" else "application app role"
        raise ValueError(f"{resource.display_name} exposes no {what} {value!r}")
    return _stable_id(resource, "scope" if kind == "Scope" else "role", value)


def _stable_id(reg: Registration, kind: str, value: str) -> str:
    """A scope or app-role id that stays the same on every run (uuid5 of key, kind, value)."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{reg.key}/{kind}/{value}"))


def _app_id_placeholder(reg: Registration) -> str:
    return "{" + _PLACEHOLDER_NAMES.get(reg.key, reg.key) + "-app-id}"


# -- federated identity credentials ----------------------------------------------


def _federated_credential_body(
    manifest: Manifest,
    reg: Registration,
    fic: FederatedCredential,
    tenant_id: str | None,
    subjects: dict[str, str],
) -> dict[str, Any]:
    """A POST .../federatedIdentityCredentials body; the emulator's issuer and subject become placeholders."""
    issuer = fic.issuer
    for t in manifest.tenants:
        # The manifest's tenant ids are the emulator's; the real one is given or left as a placeholder.
        issuer = issuer.replace(t.id, tenant_id or "{tenant-id}")
    mi = manifest.managed_identity(principal_id=fic.subject)
    if mi is not None:
        subject = "{" + f"{mi.key}-principal-id" + "}"
        who = f"the managed identity {mi.display_name}"
    else:
        subject = "{" + f"{fic.name}-subject" + "}"
        who = f"the workload named by {fic.name}"
    subjects[subject] = fic.subject
    return {
        "name": fic.name,
        "issuer": issuer,
        "subject": subject,
        "audiences": list(fic.audiences),
        "description": f"Lets {who} authenticate as {reg.display_name} without a secret (workload identity federation).",
    }


# -- placeholders and notes ------------------------------------------------------


def _describe_placeholders(
    doc: dict[str, Any],
    manifest: Manifest,
    placeholders: dict[str, str],
    subjects: dict[str, str],
    authority_host: str,
) -> dict[str, dict[str, Any]]:
    """Say what each placeholder stands for, where it occurs and how to fill it."""
    found = _placeholder_locations(doc)
    by_placeholder = {p: manifest.registration(k) for k, p in placeholders.items()}
    out: dict[str, dict[str, Any]] = {}
    for token, paths in found.items():
        entry: dict[str, Any]
        reg = by_placeholder.get(token)
        if reg is not None:
            entry = {
                "application": reg.display_name,
                "meaning": f"the appId Entra assigns to {reg.display_name!r} when it is created (it cannot be chosen)",
                "fill": (
                    f"POST the {reg.display_name!r} body first without identifierUris, read appId from the response, "
                    f"then PATCH {GRAPH_APPLICATIONS_URL}(appId='<appId>') with identifierUris, "
                    "and replace the placeholder in the bodies listed here before POSTing them"
                    if reg.identifier_uris
                    else f"POST the {reg.display_name!r} body first and read appId from the response"
                ),
            }
        elif token == "{tenant-id}":
            entry = {
                "meaning": "the directory (tenant) id of the home tenant, where the managed identity lives",
                "fill": f"az account show --query tenantId; the issuer is {authority_host}/<tenant id>/v2.0",
            }
        elif token in subjects:
            mi = manifest.managed_identity(principal_id=subjects[token])
            entry = {
                "meaning": (
                    "the object (principal) id of your user-assigned managed identity "
                    f"(the emulator's {mi.display_name!r})"
                    if mi is not None
                    else "the sub claim of the external workload's token"
                ),
                "fill": "az identity show --name <identity> --resource-group <group> --query principalId",
            }
        else:  # pragma: no cover - every placeholder the export writes is described above
            raise AssertionError(f"undescribed placeholder {token}")
        entry["replaceIn"] = paths
        out[token] = entry
    return out


def _placeholder_locations(doc: dict[str, Any]) -> dict[str, list[str]]:
    """Every ``{placeholder}`` in the bodies, with the path of each string holding it."""
    found: dict[str, list[str]] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}[{k!r}]" if " " in k else f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")
        elif isinstance(value, str):
            for token in _PLACEHOLDER.findall(value):
                found.setdefault(token, []).append(path)

    walk(doc["applications"], "applications")
    walk(doc["federatedIdentityCredentials"], "federatedIdentityCredentials")
    return found


def _notes(
    manifest: Manifest,
    exported: list[Registration],
    bases: list[str],
    authority_host: str,
) -> list[str]:
    """Ordered steps, and what a file cannot carry: assigned appIds, credentials, consent, users."""
    notes = [
        f"POST each body of 'applications', in order, to {GRAPH_APPLICATIONS_URL} (resources come first). "
        "Fill the placeholders as 'placeholders' says: a resource's identifierUris name its own appId, "
        "so it is created without them and PATCHed once Entra has assigned the appId.",
        f"POST each 'federatedIdentityCredentials' body to {GRAPH_APPLICATIONS_URL}(appId='<appId>')"
        "/federatedIdentityCredentials of the application it is listed under. The emulator's issuer and "
        f"subject are local values; in Azure the issuer is {authority_host}/<home tenant id>/v2.0 and the "
        "subject the managed identity's object (principal) id. Assign that user-assigned identity to the "
        "app's host and configure the app with ENTRA_CLIENT_CREDENTIALS (and API_CLIENT_CREDENTIALS) = "
        '[{"SourceType":"SignedAssertionFromManagedIdentity","ManagedIdentityClientId":"<identity client id>"}].',
    ]
    certificates = [f"{r.display_name}: {', '.join(r.certificate_names())}" for r in exported if r.certificate_names()]
    if any(r.secrets() for r in exported) or certificates:
        notes.append(
            "No credential is exported. The manifest's client secrets are emulator-only values: prefer the "
            "federated credential; if a secret is unavoidable, let Entra generate it "
            f"(POST {GRAPH_APPLICATIONS_URL}(appId='<appId>')/addPassword) and keep it in a secret store. "
            + (
                f"The certificates ({'; '.join(certificates)}) are generated by the emulator and stay local, so "
                "keyCredentials are left out: upload only the public part (.cer/.pem) of your own certificate "
                "under Certificates & secrets; the private key never leaves your key store."
                if certificates
                else ""
            )
        )
    consents = [f"{r.display_name} for {summary}" for r in exported if (summary := _granted_summary(manifest, r))]
    if consents:
        notes.append(
            "Grant admin consent in every tenant that uses the apps (Enterprise applications > Permissions, or "
            f"{authority_host}/<tenant id>/adminconsent?client_id=<appId>): " + "; ".join(consents) + "."
        )
    user_roles = sorted({role for u in manifest.users for role in u.roles})
    if user_roles:
        notes.append(
            "Users are emulator fixtures and are not exported: assign people to the user app roles "
            f"({', '.join(user_roles)}) under Enterprise applications > Users and groups, on each application "
            "whose tokens must carry them."
        )
    mapped = [g for g in manifest.groups if g.app_group_roles]
    if mapped:
        with_claims = [f"{r.display_name} ({r.group_membership_claims})" for r in exported
                       if r.group_membership_claims.lower() != "none"]
        notes.append(
            "Groups: " + (f"groupMembershipClaims is set on {', '.join(with_claims)}, so their tokens carry the "
                          "user's transitive security-group ids (or, past 200, the overage marker the app resolves "
                          "through Microsoft Graph with User.Read). " if with_claims else "")
            + f"Create each body of 'groups' with POST https://graph.microsoft.com/v1.0/groups (or use groups you "
            f"have), add their members, and set the app's GROUP_ROLES to 'appSettings.GROUP_ROLES' with "
            + ", ".join(f"{_group_placeholder(g)} replaced by the object id of {g.display_name!r}" for g in mapped)
            + ". Members are emulator fixtures and are not exported."
        )
    web_apps = [r for r in exported if r.front_channel_logout_url]
    if len(bases) > 1 and web_apps:
        notes.append(
            f"An application has a single front-channel logoutUrl: {web_apps[0].front_channel_logout_url} "
            "(the first app URL); every app URL gets its redirect URIs."
        )
    # Only the Microsoft services the exported apps ask for: an export for another kind of tenant
    # must not name a stand-in none of its apps uses.
    clients = {r.key for r in exported}
    asked = {a.resource for r in exported for a in r.required_resource_access}
    asked |= {g.resource for g in (*_exported_grants(manifest), *manifest.application_grants) if g.client in clients}
    first_party = [r.display_name for r in manifest.registrations if r.first_party and r.key in asked]
    if first_party:
        notes.append(
            f"Not exported: {' and '.join(first_party)} "
            + ("stands in for a Microsoft service that exists" if len(first_party) == 1
               else "stand in for Microsoft services that exist")
            + " in every tenant; requiredResourceAccess names the real service's appId and permission ids."
        )
    return [f"{n}. {text}" for n, text in enumerate(notes, start=1)]


def _exported_grants(manifest: Manifest) -> list:
    """The delegated grants a real tenant's admin is asked for: not the ones only the emulator's tests use."""
    return [g for g in manifest.delegated_grants if not g.emulator_only]


def _granted_summary(manifest: Manifest, reg: Registration) -> str:
    """'Orders API (Orders.Read, Orders.Write) and Microsoft Graph (User.Read)': the grants a client holds."""
    granted = [(g.resource, g.scopes) for g in _exported_grants(manifest) if g.client == reg.key]
    granted += [(g.resource, g.roles) for g in manifest.application_grants if g.client == reg.key]
    by_resource: dict[str, list[str]] = {}
    for resource, values in granted:
        bucket = by_resource.setdefault(resource, [])
        bucket.extend(v for v in values if v not in bucket)
    parts = []
    for key, values in by_resource.items():
        resource = manifest.registration(key)
        assert resource is not None  # load_manifest refuses dangling references
        name = resource.display_name
        if resource.first_party:  # the real service's name, not the emulator's stand-in
            name = FIRST_PARTY_NAMES.get(resource.client_id, name)
        parts.append(f"{name} ({', '.join(values)})")
    return " and ".join(parts)


def _check_authority_host(authority_host: str) -> str:
    host = authority_host.strip().rstrip("/")
    parts = urlsplit(host)
    if parts.scheme != "https" or not parts.hostname or parts.path:
        raise ValueError(f"authority host {authority_host!r} must be an https:// origin, e.g. https://login.microsoftonline.com")
    return host


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


# -- command line ------------------------------------------------------------------


def _base_urls_option(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str]:
    """Refuse a bad --app-url as a usage error, before anything is read."""
    try:
        return normalise_base_urls(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc


@click.command("export-registrations")
@click.option(
    "--app-url",
    "app_urls",
    multiple=True,
    required=True,
    metavar="URL",
    callback=_base_urls_option,
    help="The web app's public base URL, e.g. https://orders.contoso.com (repeat for several).",
)
@click.option(
    "--spa-url",
    "spa_urls",
    multiple=True,
    metavar="URL",
    callback=lambda ctx, param, value: _base_urls_option(ctx, param, value) if value else [],
    help="A further origin the single-page client is served from, besides the app URLs (repeatable).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    default="-",
    show_default=True,
    help="Where to write the JSON document ('-' for standard output).",
)
@click.option(
    "--tenant",
    "tenant_kind",
    type=click.Choice(["workforce", "external"]),
    default="workforce",
    show_default=True,
    help="Which tenant's registrations: workforce (employees), or external (an Entra External ID tenant for "
         "customers); each kind is created in its own tenant.",
)
def export_registrations_command(app_urls: list[str], spa_urls: list[str], output: str, tenant_kind: str) -> None:
    """Export the manifest's app registrations as Microsoft Graph payloads (JSON).

    No secret or private key is exported; the document's "placeholders" and
    "notes" say how to fill in the ids Entra assigns and what to do by hand.
    """
    try:
        doc = export_registrations(app_base_urls=list(app_urls), spa_base_urls=list(spa_urls), tenant_kind=tenant_kind)
    except ValueError as exc:  # ManifestError is a ValueError
        raise click.ClickException(str(exc)) from exc
    with click.open_file(output, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(doc, indent=2) + "\n")
