"""Exporting the manifest as Microsoft Graph v1.0 payloads that create the registrations in a real tenant."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from entra_emulator.manifest import DEFAULT_MANIFEST, load_manifest
from registrations_export import export_registrations, export_registrations_command

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://orders.contoso.example"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_USER_READ_ID = "e1fe6dd8-ba31-4d61-89e7-88639da4683d"  # Graph's published delegated User.Read id
# Azure Storage's appId and its delegated user_impersonation id, as its service principal publishes them.
STORAGE_APP_ID = "e406a681-f3d4-42a8-90b6-c2b029497af1"
STORAGE_USER_IMPERSONATION_ID = "03e0da56-190b-40ad-a80c-ea378c433f7f"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PLACEHOLDER = re.compile(r"\{[A-Za-z0-9._-]+\}")

# -- the Graph v1.0 shapes, as documented ----------------------------------------------
# https://learn.microsoft.com/graph/api/resources/application?view=graph-rest-1.0
APPLICATION_PROPERTIES = {
    "addIns", "api", "appId", "applicationTemplateId", "appRoles", "createdDateTime", "deletedDateTime",
    "disabledByMicrosoftStatus", "displayName", "groupMembershipClaims", "id", "identifierUris", "info",
    "isDeviceOnlyAuthSupported", "isFallbackPublicClient", "keyCredentials", "logo", "notes",
    "oauth2RequirePostResponse", "optionalClaims", "parentalControlSettings", "passwordCredentials",
    "publicClient", "publisherDomain", "requiredResourceAccess", "signInAudience", "spa", "tags",
    "tokenEncryptionKeyId", "verifiedPublisher", "web",
}  # fmt: skip
# Read-only there: a create body must not carry them.
APPLICATION_READ_ONLY = {"appId", "id", "createdDateTime", "deletedDateTime", "publisherDomain"}
SIGN_IN_AUDIENCES = {"AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"}
# https://learn.microsoft.com/graph/api/resources/apiapplication?view=graph-rest-1.0
API_APPLICATION_PROPERTIES = {
    "acceptMappedClaims", "knownClientApplications", "oauth2PermissionScopes", "preAuthorizedApplications",
    "requestedAccessTokenVersion",
}  # fmt: skip
# https://learn.microsoft.com/graph/api/resources/permissionscope?view=graph-rest-1.0
PERMISSION_SCOPE_PROPERTIES = {
    "adminConsentDescription", "adminConsentDisplayName", "id", "isEnabled", "type", "userConsentDescription",
    "userConsentDisplayName", "value",
}  # fmt: skip
# https://learn.microsoft.com/graph/api/resources/approle?view=graph-rest-1.0 ("origin" is read-only: not in POST)
APP_ROLE_PROPERTIES = {"allowedMemberTypes", "description", "displayName", "id", "isEnabled", "value"}
# https://learn.microsoft.com/graph/api/resources/webapplication?view=graph-rest-1.0
WEB_APPLICATION_PROPERTIES = {"homePageUrl", "implicitGrantSettings", "logoutUrl", "redirectUris"}
# https://learn.microsoft.com/graph/api/resources/spaapplication?view=graph-rest-1.0
SPA_APPLICATION_PROPERTIES = {"redirectUris"}
# https://learn.microsoft.com/graph/api/resources/implicitgrantsettings?view=graph-rest-1.0
IMPLICIT_GRANT_PROPERTIES = {"enableIdTokenIssuance", "enableAccessTokenIssuance"}
# https://learn.microsoft.com/graph/api/resources/requiredresourceaccess?view=graph-rest-1.0
REQUIRED_RESOURCE_ACCESS_PROPERTIES = {"resourceAppId", "resourceAccess"}
# https://learn.microsoft.com/graph/api/resources/resourceaccess?view=graph-rest-1.0
RESOURCE_ACCESS_PROPERTIES = {"id", "type"}
# https://learn.microsoft.com/graph/api/resources/federatedidentitycredential?view=graph-rest-1.0 ("id" is read-only)
FEDERATED_CREDENTIAL_PROPERTIES = {"audiences", "description", "issuer", "name", "subject"}


@pytest.fixture(scope="module")
def doc() -> dict:
    return export_registrations(app_base_urls=[BASE])


def by_name(doc: dict) -> dict[str, dict]:
    return {app["displayName"]: app for app in doc["applications"]}


def resolve_resource(doc: dict, resource_app_id: str) -> dict:
    """The exported application (or a Microsoft service's known permissions) a requiredResourceAccess
    entry points at."""
    if resource_app_id == GRAPH_APP_ID:
        return {"displayName": "Microsoft Graph", "api": {"oauth2PermissionScopes": [{"id": GRAPH_USER_READ_ID, "value": "User.Read"}]}}
    if resource_app_id == STORAGE_APP_ID:
        scope = {"id": STORAGE_USER_IMPERSONATION_ID, "value": "user_impersonation"}
        return {"displayName": "Azure Storage", "api": {"oauth2PermissionScopes": [scope]}}
    assert PLACEHOLDER.fullmatch(resource_app_id), f"{resource_app_id} is neither a Microsoft service nor a placeholder"
    return by_name(doc)[doc["placeholders"][resource_app_id]["application"]]


def asked_for(doc: dict, app: dict) -> dict[tuple[str, str], set[str]]:
    """{(resource displayName, "Scope"/"Role"): {values}} from an application's requiredResourceAccess."""
    out: dict[tuple[str, str], set[str]] = {}
    for entry in app.get("requiredResourceAccess", []):
        resource = resolve_resource(doc, entry["resourceAppId"])
        scopes = {s["id"]: s["value"] for s in resource.get("api", {}).get("oauth2PermissionScopes", [])}
        roles = {r["id"]: r["value"] for r in resource.get("appRoles", []) if "Application" in r["allowedMemberTypes"]}
        for access in entry["resourceAccess"]:
            values = scopes if access["type"] == "Scope" else roles
            assert access["id"] in values, f"{app['displayName']} asks for an id {resource['displayName']} does not expose"
            out.setdefault((resource["displayName"], access["type"]), set()).add(values[access["id"]])
    return out


def strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


# -- Graph shape ---------------------------------------------------------------------------


def test_every_application_has_only_writable_graph_properties(doc):
    assert json.loads(json.dumps(doc)) == doc  # JSON-serialisable as it is
    assert doc["applications"]
    for app in doc["applications"]:
        assert set(app) <= APPLICATION_PROPERTIES - APPLICATION_READ_ONLY, app["displayName"]
        assert isinstance(app["displayName"], str) and app["displayName"]
        assert app["signInAudience"] in SIGN_IN_AUDIENCES
        assert "keyCredentials" not in app and "passwordCredentials" not in app
        if "api" in app:
            assert set(app["api"]) <= API_APPLICATION_PROPERTIES
        if "web" in app:
            assert set(app["web"]) <= WEB_APPLICATION_PROPERTIES
            assert set(app["web"]["implicitGrantSettings"]) <= IMPLICIT_GRANT_PROPERTIES
            assert all(isinstance(u, str) for u in app["web"]["redirectUris"])
        if "spa" in app:
            assert set(app["spa"]) == SPA_APPLICATION_PROPERTIES
            assert app["spa"]["redirectUris"] and all(isinstance(u, str) for u in app["spa"]["redirectUris"])


def test_scopes_and_roles_are_complete_and_typed(doc):
    for app in doc["applications"]:
        ids: list[str] = []
        for scope in app.get("api", {}).get("oauth2PermissionScopes", []):
            assert set(scope) <= PERMISSION_SCOPE_PROPERTIES
            for required in ("id", "value", "type", "adminConsentDisplayName", "adminConsentDescription"):
                assert isinstance(scope[required], str) and scope[required], (app["displayName"], required)
            assert GUID.match(scope["id"])
            assert scope["type"] in {"User", "Admin"}
            assert scope["isEnabled"] is True
            if scope["type"] == "User":  # users consent to it: they need the user-facing text
                assert scope["userConsentDisplayName"] and scope["userConsentDescription"]
            ids.append(scope["id"])
        for role in app.get("appRoles", []):
            assert set(role) == APP_ROLE_PROPERTIES
            assert GUID.match(role["id"])
            assert all(isinstance(role[k], str) and role[k] for k in ("value", "displayName", "description"))
            assert role["allowedMemberTypes"] and set(role["allowedMemberTypes"]) <= {"User", "Application"}
            assert role["isEnabled"] is True
            ids.append(role["id"])
        assert len(ids) == len(set(ids)), f"{app['displayName']}: ids must be unique"


def test_required_resource_access_names_ids_the_target_exposes(doc):
    seen = 0
    for app in doc["applications"]:
        for entry in app.get("requiredResourceAccess", []):
            assert set(entry) == REQUIRED_RESOURCE_ACCESS_PROPERTIES
            assert entry["resourceAccess"]
            for access in entry["resourceAccess"]:
                assert set(access) == RESOURCE_ACCESS_PROPERTIES
                assert access["type"] in {"Scope", "Role"}
                assert GUID.match(access["id"])
                seen += 1
        asked_for(doc, app)  # asserts every id exists in the target's exported scopes/roles
    assert seen >= 5


# -- DESIGN.md's permission model ------------------------------------------------------------


def test_the_permission_model_is_designs(doc):
    apps = by_name(doc)
    # the emulated Graph and Azure Storage are not exported
    assert set(apps) == {"Orders API", "Orders web", "Orders SPA", "Orders daemon"}

    api = apps["Orders API"]
    assert api["identifierUris"] == ["api://{api-app-id}"]
    assert api["api"]["requestedAccessTokenVersion"] == 2
    assert {s["value"] for s in api["api"]["oauth2PermissionScopes"]} == {"Orders.Read", "Orders.Write"}
    assert {r["value"]: r["allowedMemberTypes"] for r in api["appRoles"]} == {
        "Orders.Read.All": ["Application"],
        "Orders.Admin": ["User"],
    }
    # The API calls Graph on behalf of the user: it must ask for User.Read itself.
    assert asked_for(doc, api) == {("Microsoft Graph", "Scope"): {"User.Read"}}

    web = apps["Orders web"]
    assert asked_for(doc, web) == {
        ("Orders API", "Scope"): {"Orders.Read", "Orders.Write"},
        ("Microsoft Graph", "Scope"): {"User.Read"},
    }
    graph_entry = next(e for e in web["requiredResourceAccess"] if e["resourceAppId"] == GRAPH_APP_ID)
    assert graph_entry["resourceAccess"] == [{"id": GRAPH_USER_READ_ID, "type": "Scope"}]
    assert {r["value"]: r["allowedMemberTypes"] for r in web["appRoles"]} == {"Orders.Admin": ["User"]}

    spa = apps["Orders SPA"]
    # Only what it calls: the emulator-only grant of Azure Storage (tests/api/test_spa_tokens.py) is never asked of a
    # real tenant's admin.
    assert asked_for(doc, spa) == {("Orders API", "Scope"): {"Orders.Read", "Orders.Write"}}
    # A public client on the spa platform only: no web platform, no credential, nothing it exposes.
    assert "web" not in spa and "api" not in spa and "appRoles" not in spa

    daemon = apps["Orders daemon"]
    assert asked_for(doc, daemon) == {("Orders API", "Role"): {"Orders.Read.All"}}
    assert "web" not in daemon and "api" not in daemon


def test_resources_come_before_the_clients_that_reference_them(doc):
    names = [app["displayName"] for app in doc["applications"]]
    assert names.index("Orders API") < names.index("Orders web")
    assert names.index("Orders API") < names.index("Orders daemon")
    assert names.index("Orders API") < names.index("Orders SPA")


def test_the_single_page_client_is_exported_as_graphs_spa_redirect_uris():
    doc = export_registrations(app_base_urls=[BASE, "http://localhost:5000"], spa_base_urls=["https://spa.contoso.example/"])
    spa = by_name(doc)["Orders SPA"]
    # Graph's spaApplication.redirectUris: the app's /spa/ on each app URL and on each further SPA origin.
    assert spa["spa"] == {"redirectUris": [
        f"{BASE}/spa/", "http://localhost:5000/spa/", "https://spa.contoso.example/spa/",
    ]}
    # No further origin given: only the app URLs' /spa/, and nothing is left unexpanded.
    plain = by_name(export_registrations(app_base_urls=[BASE]))["Orders SPA"]
    assert plain["spa"] == {"redirectUris": [f"{BASE}/spa/"]}
    assert not any("{spa_base_url}" in s for s in strings(doc))
    # The web app's URIs stay on the web platform: no URI is on both (Entra would pick one at random).
    web = by_name(doc)["Orders web"]
    assert not set(web["web"]["redirectUris"]) & set(spa["spa"]["redirectUris"])
    assert "spa" not in web


@pytest.mark.parametrize(
    "bases",
    [[BASE], [BASE + "/"], [BASE, "https://orders-staging.contoso.example"], ["http://localhost:5000"]],
)
def test_web_uris_are_built_from_the_given_base_urls(bases):
    web = by_name(export_registrations(app_base_urls=bases))["Orders web"]["web"]
    first = bases[0].rstrip("/")
    for base in bases:
        assert base.rstrip("/") + "/auth/callback" in web["redirectUris"]
    assert web["logoutUrl"] == first + "/auth/logout/frontchannel"  # Graph has one logoutUrl: the first base's
    assert web["implicitGrantSettings"] == {"enableIdTokenIssuance": False, "enableAccessTokenIssuance": False}
    assert all(any(u.startswith(b.rstrip("/") + "/") for b in bases) for u in web["redirectUris"])


# -- nothing secret, nothing local -----------------------------------------------------------


def test_no_secret_private_key_or_local_id_is_exported(doc):
    manifest = load_manifest(DEFAULT_MANIFEST)
    secrets = [s for r in manifest.registrations for s in r.secrets()]
    assert "dev-only-orders-web-secret" in secrets  # the check below is not vacuous
    text = json.dumps(doc)
    for secret in secrets:
        assert secret not in text
    assert "PRIVATE KEY" not in text and "BEGIN CERTIFICATE" not in text
    assert not any({"keyCredentials", "passwordCredentials"} & set(app) for app in doc["applications"])
    # The emulator's ids mean nothing in a real tenant (the Microsoft services' own appIds are the real ids kept).
    local_ids = [r.client_id for r in manifest.registrations if not r.first_party]
    local_ids += [t.id for t in manifest.tenants] + [mi.principal_id for mi in manifest.managed_identities]
    for local in local_ids:
        assert local not in text, local
    assert "127.0.0.1:5443" not in text and "localhost:5000" not in text


def test_the_microsoft_services_stood_in_for_are_named_as_not_exported(doc):
    not_exported = [n for n in doc["notes"] if "Not exported:" in n]
    assert len(not_exported) == 1, doc["notes"]
    note = not_exported[0]
    assert "Microsoft Graph (emulated) stands in for a Microsoft service" in note
    # The consent a person grants names the real service, not the emulator's stand-in.
    assert any("Microsoft Graph (User.Read)" in n for n in doc["notes"]), doc["notes"]
    # No exported app asks for Azure Storage (the SPA's grant is the emulator's only): no note names it.
    assert not any("Azure Storage" in n for n in doc["notes"]), doc["notes"]
    # The customers' apps ask Graph only too.
    external = [n for n in export_registrations(app_base_urls=[BASE], tenant_kind="external")["notes"]
                if "Not exported:" in n]
    assert len(external) == 1 and "Microsoft Graph (emulated) stands in for a Microsoft service" in external[0]
    assert "Azure Storage" not in external[0]


def test_certificates_and_secrets_are_left_to_a_person(doc):
    notes = " ".join(doc["notes"])
    assert "public part" in notes and "keyCredentials are left out" in notes
    assert "addPassword" in notes  # a secret, if any, is generated by Entra, never copied from the manifest


# -- federated credentials and placeholders ----------------------------------------------------


def test_federated_credentials_are_graph_bodies_with_placeholders(doc):
    fics = doc["federatedIdentityCredentials"]
    assert set(fics) == {"Orders API", "Orders web", "Orders daemon"}
    for bodies in fics.values():
        for body in bodies:
            assert set(body) == FEDERATED_CREDENTIAL_PROPERTIES
            assert len(body["name"]) <= 120 and re.fullmatch(r"[A-Za-z0-9-]+", body["name"])
            assert len(body["description"]) <= 600
            assert body["audiences"] == ["api://AzureADTokenExchange"]
            assert body["issuer"] == "https://login.microsoftonline.com/{tenant-id}/v2.0"
            assert body["subject"] == "{orders-host-principal-id}"
    assert "principal" in doc["placeholders"]["{orders-host-principal-id}"]["meaning"]
    assert "tenant" in doc["placeholders"]["{tenant-id}"]["meaning"]


def test_a_known_tenant_and_cloud_fill_the_issuer():
    tenant = "33333333-3333-4333-8333-333333333333"
    doc = export_registrations(
        app_base_urls=[BASE], authority_host="https://login.microsoftonline.us/", tenant_id=tenant
    )
    issuers = {b["issuer"] for bodies in doc["federatedIdentityCredentials"].values() for b in bodies}
    assert issuers == {f"https://login.microsoftonline.us/{tenant}/v2.0"}
    assert "{tenant-id}" not in doc["placeholders"]


def test_every_placeholder_is_explained(doc):
    bodies = strings(doc["applications"]) + strings(doc["federatedIdentityCredentials"])
    tokens = {t for s in bodies for t in PLACEHOLDER.findall(s)}
    assert tokens == set(doc["placeholders"]) == {"{api-app-id}", "{tenant-id}", "{orders-host-principal-id}"}
    for token, entry in doc["placeholders"].items():
        assert entry["meaning"] and entry["fill"]
        assert len(entry["replaceIn"]) == sum(token in s for s in bodies)
    api_app_id = doc["placeholders"]["{api-app-id}"]
    assert api_app_id["application"] == "Orders API"
    assert "PATCH" in api_app_id["fill"]  # identifierUris can only name the appId once Entra assigned it
    assert "applications[0].identifierUris[0]" in api_app_id["replaceIn"]
    # the web app, the single-page client and the daemon name the API
    assert sum(p.endswith(".resourceAppId") for p in api_app_id["replaceIn"]) == 3


# -- stability -------------------------------------------------------------------------------


def test_ids_are_stable_across_runs(doc):
    assert export_registrations(app_base_urls=[BASE]) == doc
    # Another interpreter, another hash seed: nothing may depend on set order or process state.
    code = f"import json, registrations_export as m; print(json.dumps(m.export_registrations(app_base_urls=[{BASE!r}])))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "4242"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert json.loads(out) == doc


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"app_base_urls": []}, "at least one app base URL"),
        ({"app_base_urls": ["http://orders.contoso.example"]}, "only for localhost"),
        ({"app_base_urls": ["orders.contoso.example"]}, "absolute https"),
        ({"app_base_urls": [BASE + "/?x=1"]}, "query or fragment"),
        ({"app_base_urls": [BASE], "tenant_id": "organizations"}, "GUID"),
        ({"app_base_urls": [BASE], "authority_host": "http://login.example"}, "https:// origin"),
    ],
)
def test_unusable_input_is_refused(kwargs, complaint):
    with pytest.raises(ValueError, match=complaint):
        export_registrations(**kwargs)


def test_a_first_party_permission_without_a_known_id_fails_loudly(tmp_path):
    text = DEFAULT_MANIFEST.read_text(encoding="utf-8")
    needle = '  resource = "graph"\n  scopes = ["User.Read"]'
    assert text.count(needle) == 1
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(text.replace(needle, '  resource = "graph"\n  scopes = ["User.Read", "Mail.Read"]'), encoding="utf-8")
    with pytest.raises(ValueError, match="Mail.Read"):
        export_registrations(manifest, app_base_urls=[BASE])


# -- the command -------------------------------------------------------------------------------


def test_the_command_writes_the_document_as_json(doc, tmp_path):
    runner = CliRunner()
    result = runner.invoke(export_registrations_command, ["--app-url", BASE])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == doc

    target = tmp_path / "registrations.json"
    result = runner.invoke(export_registrations_command, ["--app-url", BASE, "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text(encoding="utf-8")) == doc

    result = runner.invoke(export_registrations_command, ["--app-url", BASE, "--spa-url", "https://spa.contoso.example"])
    assert result.exit_code == 0, result.output
    spa = by_name(json.loads(result.stdout))["Orders SPA"]
    assert spa["spa"]["redirectUris"] == [f"{BASE}/spa/", "https://spa.contoso.example/spa/"]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        ([], "--app-url"),
        (["--app-url", "http://orders.contoso.example"], "only for localhost"),
        (["--app-url", BASE, "--spa-url", "http://spa.contoso.example"], "only for localhost"),
    ],
)
def test_the_command_refuses_missing_or_bad_urls(args, complaint):
    result = CliRunner().invoke(export_registrations_command, args)
    assert result.exit_code == 2
    assert complaint in result.output
