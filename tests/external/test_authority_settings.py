"""Authority kinds by configuration alone: the settings, what `flask entra check` says, and what
production refuses (no network: the posture reads settings only)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import config
from app_commands.entra import check_command
from entra_auth.authorities import Authority, check_discovery_issuer
from entra_auth.errors import UntrustedDiscovery
from tests.test_config import SAFE_PRODUCTION

TID = "33333333-3333-4333-8333-333333333333"
OTHER = "44444444-4444-4444-8444-444444444444"
CIAM_PRODUCTION = {
    **{k: v for k, v in SAFE_PRODUCTION.items() if k not in ("ENTRA_AUTHORITY_HOST", "ENTRA_TENANT_ID")},
    "ENTRA_AUTHORITY": "https://woodgrove.ciamlogin.com/woodgrove.onmicrosoft.com",
    "ENTRA_ALLOWED_TENANTS": TID,
}


def test_an_external_id_authority_is_a_full_url_and_its_kind_comes_from_its_host():
    settings = config.load_config(CIAM_PRODUCTION)
    assert settings["ENTRA_AUTHORITY"] == "https://woodgrove.ciamlogin.com/woodgrove.onmicrosoft.com"
    assert settings["ENTRA_AUTHORITY_KIND"] == "ciam"
    # Host and tenant follow from it, for everything that still reads them.
    assert settings["ENTRA_AUTHORITY_HOST"] == "https://woodgrove.ciamlogin.com"
    assert settings["ENTRA_TENANT_ID"] == "woodgrove.onmicrosoft.com"


def test_a_path_less_ciamlogin_authority_means_the_subdomains_onmicrosoft_tenant_as_msal_reads_it():
    settings = config.load_config({**CIAM_PRODUCTION, "ENTRA_AUTHORITY": "https://woodgrove.ciamlogin.com/"})
    assert settings["ENTRA_AUTHORITY"] == "https://woodgrove.ciamlogin.com/woodgrove.onmicrosoft.com"


def test_host_and_tenant_keep_working_and_mean_a_workforce_authority():
    settings = config.load_config(SAFE_PRODUCTION)
    assert settings["ENTRA_AUTHORITY"] == f"https://login.microsoftonline.com/{SAFE_PRODUCTION['ENTRA_TENANT_ID']}"
    assert settings["ENTRA_AUTHORITY_KIND"] == "workforce"


def test_microsoft_identity_web_names_carry_over_and_the_flat_names_win():
    env = {k: v for k, v in CIAM_PRODUCTION.items() if k not in ("ENTRA_AUTHORITY", "ENTRA_CLIENT_ID")}
    settings = config.load_config({**env, "AzureAd__Authority": "https://woodgrove.ciamlogin.com/" + TID,
                                   "AzureAd__ClientId": "1e0f9a8b-7c6d-4e5f-8a3b-2c1d0e9f8a7b"})
    assert (settings["ENTRA_AUTHORITY"], settings["ENTRA_AUTHORITY_KIND"]) == (
        f"https://woodgrove.ciamlogin.com/{TID}", "ciam")
    assert settings["ENTRA_CLIENT_ID"] == "1e0f9a8b-7c6d-4e5f-8a3b-2c1d0e9f8a7b"
    workforce = {k: v for k, v in SAFE_PRODUCTION.items() if k not in ("ENTRA_AUTHORITY_HOST", "ENTRA_TENANT_ID")}
    settings = config.load_config({**workforce, "AzureAd__Instance": "https://login.microsoftonline.com/",
                                   "AzureAd__TenantId": SAFE_PRODUCTION["ENTRA_TENANT_ID"],
                                   "ENTRA_AUTHORITY_HOST": "https://login.microsoftonline.us"})
    assert settings["ENTRA_AUTHORITY"] == f"https://login.microsoftonline.us/{SAFE_PRODUCTION['ENTRA_TENANT_ID']}"


@pytest.mark.parametrize(("change", "complaint"), [
    # An External ID authority judged by the workforce rule: its issuer is https://<tid>.ciamlogin.com/...
    ({"ENTRA_AUTHORITY_KIND": "workforce"}, "is an External ID \\(ciamlogin.com\\) authority but ENTRA_AUTHORITY_KIND"),
    # The reverse: a workforce authority judged by the External ID rule.
    ({"ENTRA_AUTHORITY": f"https://login.microsoftonline.com/{TID}", "ENTRA_AUTHORITY_KIND": "ciam"},
     "is a workforce authority but ENTRA_AUTHORITY_KIND=ciam"),
    ({"ENTRA_AUTHORITY_KIND": "b2c"}, "kind must be one of workforce, ciam, oidc"),
    ({"ENTRA_AUTHORITY": "http://woodgrove.ciamlogin.com/" + TID}, "must be an https:// URL"),
    ({"ENTRA_AUTHORITY_HOST": "https://login.microsoftonline.com"}, "name different authorities"),
    ({"AzureAd__Instance": "https://login.microsoftonline.com/", "AzureAd__TenantId": TID}, "name different authorities"),
    # Tokens carry the tenant's GUID: an authority named by domain needs the allow-list to say which.
    ({"ENTRA_ALLOWED_TENANTS": ""}, "ENTRA_TENANT_ID must be the tenant id"),
    # v1.0 tokens carry the workforce issuer sts.windows.net: never for an External ID authority.
    ({"API_ACCEPT_V1_TOKENS": "true"}, "API_ACCEPT_V1_TOKENS=true with a ciam authority"),
])
def test_production_refuses_an_authority_whose_kind_its_host_contradicts(change, complaint):
    with pytest.raises(config.ConfigError, match=complaint):
        config.load_config({**CIAM_PRODUCTION, **change})


def test_an_unknown_kind_is_refused_with_host_and_tenant_too():
    with pytest.raises(config.ConfigError, match="ENTRA_AUTHORITY_KIND: the authority kind must be one of"):
        config.load_config({**SAFE_PRODUCTION, "ENTRA_AUTHORITY_KIND": "b2c"})


def test_development_only_warns_about_a_contradicted_kind():
    settings, report = config.environment_posture({**CIAM_PRODUCTION, "APP_ENV": "testing",
                                                   "ENTRA_AUTHORITY_KIND": "workforce"})
    [item] = [entry for entry in report if entry[1] == "ENTRA_AUTHORITY"]
    assert item[0] == config.WARN and "production refuses it" in item[2]


def test_flask_entra_check_shows_the_kind_the_accepted_issuer_and_where_the_keys_come_from(monkeypatch):
    for name, value in CIAM_PRODUCTION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL")  # the report's Redis look-up is not what this test is about
    result = CliRunner().invoke(check_command, [])
    lines = {line.split()[1]: line for line in result.output.splitlines() if line[:4] in ("ok  ", "warn", "fail")}
    assert "https://woodgrove.ciamlogin.com/woodgrove.onmicrosoft.com (kind ciam)" in lines["ENTRA_AUTHORITY"]
    assert (f"https://{{tid}}.ciamlogin.com/{{tid}}/v2.0, for tid {TID}" in result.output
            and "login.microsoftonline.com" not in lines["accepted"]), result.output
    assert ("the jwks_uri of https://woodgrove.ciamlogin.com/woodgrove.onmicrosoft.com/v2.0/.well-known/"
            "openid-configuration") in lines["signing"]


# -- the discovery issuer, judged by the authority's kind (MSAL.NET/MSAL.js had to add this check) -------------

CIAM = Authority.parse("https://woodgrove.ciamlogin.com/woodgrove.onmicrosoft.com")
WORKFORCE = Authority.parse(f"https://login.microsoftonline.com/{TID}")
MULTI = Authority.parse("https://login.microsoftonline.com/organizations")
CUSTOM = Authority.parse(f"https://login.woodgrove.com/{TID}/v2.0", "oidc")


@pytest.mark.parametrize(("authority", "issuer"), [
    (CIAM, f"https://{TID}.ciamlogin.com/{TID}/v2.0"),
    (WORKFORCE, f"https://login.microsoftonline.com/{TID}/v2.0"),
    (MULTI, "https://login.microsoftonline.com/{tenantid}/v2.0"),
    (CUSTOM, f"https://login.woodgrove.com/{TID}/v2.0"),
    (CUSTOM, f"https://{TID}.ciamlogin.com/{TID}/v2.0"),
])
def test_the_discovery_issuer_of_each_kind_is_accepted(authority, issuer):
    assert check_discovery_issuer(issuer, authority, [TID]).replace("{tenantid}", TID) == issuer.replace(
        "{tenantid}", TID)


@pytest.mark.parametrize(("authority", "issuer"), [
    (CIAM, f"https://login.microsoftonline.com/{TID}/v2.0"),  # a workforce issuer for an External ID authority
    (WORKFORCE, f"https://{TID}.ciamlogin.com/{TID}/v2.0"),  # and the reverse
    (CIAM, f"https://{TID}.ciamlogin.com/{OTHER}/v2.0"),  # two tenants in one issuer
    (CIAM, f"https://{OTHER}.ciamlogin.com/{OTHER}/v2.0"),  # a tenant not allowed
    (CIAM, f"https://{TID}.evil.example/{TID}/v2.0"),  # the right path on the wrong host
    (CIAM, f"https://{TID}.ciamlogin.com.evil.example/{TID}/v2.0"),
    (CIAM, f"https://evil{TID}.ciamlogin.com/{TID}/v2.0"),
    (CIAM, f"http://{TID}.ciamlogin.com/{TID}/v2.0"),
    (CIAM, "https://{tenantid}.ciamlogin.com/{tenantid}/v2.0"),  # a template only multi-tenant workforce answers
    (WORKFORCE, f"https://login.microsoftonline.com.evil.example/{TID}/v2.0"),
    (MULTI, f"https://login.microsoftonline.com/{OTHER}/v2.0"),
    (CUSTOM, f"https://evil.example/{TID}/v2.0"),  # never "any https issuer"
    (CUSTOM, f"https://login.woodgrove.com/{OTHER}/v2.0"),
])
def test_an_issuer_of_another_shape_or_tenant_is_refused(authority, issuer):
    with pytest.raises(UntrustedDiscovery, match="discovery issuer"):
        check_discovery_issuer(issuer, authority, [TID])


# -- the registrations to create in an external tenant --------------------------------------------------------

def test_the_export_for_an_external_tenant_has_the_customers_registrations_only():
    import json

    from registrations_export import export_registrations_command

    result = CliRunner().invoke(export_registrations_command, ["--app-url", "https://shop.woodgrove.example",
                                                               "--tenant", "external"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    names = [app["displayName"] for app in doc["applications"]]
    assert names == ["Orders API (customers)", "Orders web (customers)", "Orders daemon (customers)"]
    # External ID: single-tenant apps only; the web app's redirect URI on the shop's own URL.
    assert {app["signInAudience"] for app in doc["applications"]} == {"AzureADMyOrg"}
    web = doc["applications"][1]
    assert web["web"]["redirectUris"][0] == "https://shop.woodgrove.example/auth/callback"
    workforce = json.loads(CliRunner().invoke(export_registrations_command,
                                              ["--app-url", "https://shop.woodgrove.example"]).output)
    assert not set(names) & {app["displayName"] for app in workforce["applications"]}


def test_a_custom_domain_given_as_ciam_is_told_to_use_oidc():
    settings, report = config.environment_posture({**CIAM_PRODUCTION, "ENTRA_AUTHORITY": f"https://login.woodgrove.com/{TID}",
                                                   "ENTRA_AUTHORITY_KIND": "ciam"})
    [item] = [entry for entry in report if entry[1] == "ENTRA_AUTHORITY_KIND"]
    assert item[0] == config.WARN and "Set ENTRA_AUTHORITY_KIND=oidc" in item[2]
    _, report = config.environment_posture({**CIAM_PRODUCTION, "ENTRA_AUTHORITY": f"https://login.woodgrove.com/{TID}/v2.0",
                                            "ENTRA_AUTHORITY_KIND": "oidc"})
    assert not [entry for entry in report if entry[1] == "ENTRA_AUTHORITY_KIND"]
    assert ("ok", "ENTRA_AUTHORITY", f"https://login.woodgrove.com/{TID}/v2.0 (kind oidc, MSAL's oidc_authority)") in report
