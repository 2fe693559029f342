"""The app configured the way the README tells a deployment to configure it, not with development defaults.

The README's production settings table, filled in with the emulator's values
(strings, as a platform sets them): the App ID URI as ``API_AUDIENCE``,
certificates in Microsoft.Identity.Web's ``ClientCredentials`` shape,
``TOKEN_CACHE_KEYS``, ``PUBLIC_BASE_URL``, a single tenant id. Production
refuses the local emulator by design (a dev and test tool), and that is the
only thing it refuses here: so the values are read with the *production*
class's defaults and the app runs them labelled ``testing``, nothing else
changed. The whole chain then runs under them: sign-in, a page through the API
tier, on-behalf-of, incremental consent, a role-gated page, sign-out.

The development defaults once hid a defect (both audience forms listed, so the
README's App ID URI setting was never run): ``test_development_defaults_differ_
from_production_only_where_known`` fails when a new difference appears.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlsplit

import pytest

import config
from tests.conftest import (
    API_CLIENT_ID,
    HOME_TENANT_ID,
    LIVE_APP_PORTS,
    LIVE_APP_URLS,
    TEST_TOKEN_CACHE_KEY,
    WEB_CLIENT_ID,
)

from tests.api.helpers import claims_of

from .conftest import LiveApp, record_tokens, sign_in

MEGAN = "megan@contoso.example"
ADELE = "adele@contoso.example"
APP_ID_URI = f"api://{API_CLIENT_ID}"


def jwt_claims(token: str) -> dict:
    """A JWT's claims, unverified; {} for an opaque token (a refresh token)."""
    try:
        return claims_of(token)
    except ValueError:  # not base64 JSON
        return {}


def production_environment(emulator, redis_url: str, public_base_url: str, **extra: str) -> dict[str, str]:
    """The README's "Settings" table for production, each value as a string, filled in for the emulator."""
    certificates = emulator.emulator.certificates

    def certificate(name: str) -> str:
        return json.dumps([{"SourceType": "Path", "CertificateDiskPath": str(certificates[name].path)}])

    return {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ENTRA_TENANT_ID": HOME_TENANT_ID,
        "ENTRA_CLIENT_ID": WEB_CLIENT_ID,
        "API_CLIENT_ID": API_CLIENT_ID,
        "API_AUDIENCE": APP_ID_URI,
        "API_SCOPES": f"{APP_ID_URI}/Orders.Read {APP_ID_URI}/Orders.Write",
        "ENTRA_CLIENT_CREDENTIALS": certificate("orders-web"),
        "API_CLIENT_CREDENTIALS": certificate("orders-api"),
        "REDIS_URL": redis_url,
        "TOKEN_CACHE_KEYS": TEST_TOKEN_CACHE_KEY,
        "PUBLIC_BASE_URL": public_base_url,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        # Where the README says "defaults to Microsoft's" or "leave unset": the emulator's instead.
        "ENTRA_AUTHORITY_HOST": emulator.url,
        "ENTRA_CA_BUNDLE": str(emulator.ca_path),
        "DOWNSTREAM_API_BASE_URL": f"{emulator.url}/v1.0",
        "GRAPH_API_BASE_URL": f"{emulator.url}/v1.0",
        **extra,
    }


def production_settings(environ: dict[str, str]) -> dict:
    """The settings production would build from ``environ`` (its class defaults, not development's),
    after checking that production refuses them for the emulator alone."""
    settings, report = config.environment_posture(environ)
    refused = {item for status, item, _ in report if status == config.FAIL}
    assert refused == {"emulator"}, [entry for entry in report if entry[0] == config.FAIL]
    return settings


@pytest.fixture
def start_production_app(emulator, redis_server, redis_client):
    from app import create_app

    started: list[LiveApp] = []
    cert_path = str(emulator.emulator.ca.server_certificate(["127.0.0.1", "localhost", "::1"]))

    def start(**extra: str) -> LiveApp:
        index = len(started)
        settings = production_settings(production_environment(emulator, redis_server, LIVE_APP_URLS[index], **extra))
        # Only the label changes: every value, default or not, is production's.
        live = LiveApp(create_app({**settings, "APP_ENV": "testing"}), LIVE_APP_PORTS[index], cert_path)
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()


def test_production_refuses_these_settings_only_for_the_emulator(emulator, redis_server):
    environ = production_environment(emulator, redis_server, LIVE_APP_URLS[0])
    with pytest.raises(config.ConfigError) as refused:
        config.load_config(environ)
    assert "the local Entra emulator is configured" in refused.value.message
    settings = production_settings(environ)
    assert settings["API_AUDIENCE"] == [APP_ID_URI] and settings["API_ACCEPT_V1_TOKENS"] is False
    assert settings["SESSION_COOKIE_NAME"] == "__Host-session" and settings["SESSION_COOKIE_SECURE"] is True


def test_the_whole_chain_runs_under_the_readmes_production_settings(start_production_app, new_browser, control,
                                                                    redis_client, emulator):
    api = start_production_app(ENABLED_BLUEPRINTS="api")
    web = start_production_app(API_BASE_URL=api.url)
    assert web.app.config["API_AUDIENCE"] == [APP_ID_URI] and web.app.config["ENTRA_TENANT_ID"] == HOME_TENANT_ID
    issued = record_tokens(web)
    megan = new_browser()

    home = sign_in(megan, web, MEGAN)
    assert "Megan Bowen" in home.text
    assert megan.cookie("__Host-session"), "the production cookie name, Secure"

    # A page through the API tier (over HTTPS, the user's token) and on-behalf-of to the downstream.
    profile = megan.get(f"{web.url}/profile")
    assert profile.status_code == 200 and "Marketing Manager" in profile.text
    # What Entra issues for the App ID URI scope is a v2.0 token naming the client id GUID: the very
    # token the API once refused when API_AUDIENCE held the App ID URI.
    api_tokens = [c for c in map(jwt_claims, issued) if c.get("aud") == API_CLIENT_ID]
    assert api_tokens and all(c["ver"] == "2.0" for c in api_tokens)

    # Incremental consent for Orders.Write, then the order on "My orders".
    form = {"csrf_token": megan.csrf_token(f"{web.url}/orders"), "item": "Pens", "quantity": "3", "note": ""}
    megan.post(f"{web.url}/orders", data=form, as_user=MEGAN)
    form["csrf_token"] = megan.csrf_token(f"{web.url}/orders")
    placed = megan.post(f"{web.url}/orders", data=form)
    assert placed.status_code == 200 and "Order placed: 3 × Pens" in placed.text
    assert "Pens" in megan.get(f"{web.url}/orders").text

    # Role-gated: Megan has no Orders.Admin; Adele does, and sees the tenant's orders.
    assert megan.http.get(f"{web.url}/admin", allow_redirects=False).status_code == 403
    adele = new_browser()
    admin = sign_in(adele, web, ADELE, "/admin")
    assert admin.status_code == 200 and "Pens" in admin.text

    # Sign-out: Megan's session and token cache are gone, Entra's session is ended next.
    token = megan.csrf_token(f"{web.url}/")
    out = megan.http.post(f"{web.url}/auth/logout", data={"csrf_token": token}, allow_redirects=False,
                          headers={"Referer": f"{web.url}/"})
    assert out.status_code == 302 and urlsplit(out.headers["Location"]).netloc == urlsplit(emulator.url).netloc
    again = megan.http.get(f"{web.url}/profile", allow_redirects=False)
    assert again.status_code == 302 and urlsplit(again.headers["Location"]).netloc == urlsplit(emulator.url).netloc
    # Adele is still signed in: one session and one token-cache partition remain, hers.
    assert adele.http.get(f"{web.url}/admin", allow_redirects=False).status_code == 200
    assert len(redis_client.keys("tokencache:user:*")) == 1


# Settings whose development (and testing) value differs from production's default, and why that is
# safe. A new difference fails the test below until it is justified here: a development default that
# production lacks is how a defect hides from every test that runs the defaults.
KNOWN_DIFFERENCES = {
    "APP_ENV": "the label itself",
    "TESTING": "Flask's testing flag",
    "ENTRA_AUTHORITY_HOST": "the emulator in place of login.microsoftonline.com",
    "ENTRA_TENANT_ID": "organizations with both emulator tenants allowed; production names its tenant",
    "ENTRA_ALLOWED_TENANTS": "the emulator's two tenants",
    "ENTRA_CLIENT_ID": "the emulator's web registration; production must set it",
    "ENTRA_CLIENT_CERTIFICATE_PATH": "the emulator's generated certificate; production sets its own credential",
    "ENTRA_CA_BUNDLE": "the emulator's CA; production leaves it unset",
    "API_CLIENT_ID": "the emulator's API registration; production must set it",
    "API_AUDIENCE": "the emulator API's App ID URI, as the README tells production to set it",
    "API_CLIENT_CERTIFICATE_PATH": "the emulator's generated certificate",
    "API_SCOPES": "the emulator API's scopes",
    "DAEMON_CLIENT_ID": "the emulator's daemon registration",
    "DAEMON_CLIENT_CERTIFICATE_PATH": "the emulator's generated certificate",
    "DOWNSTREAM_API_BASE_URL": "the emulator's Graph-like /v1.0",
    "SPA_CLIENT_ID": "the emulator's SPA registration (serves /spa/); production sets its own or has no /spa/",
    "GRAPH_API_BASE_URL": "the emulator's Graph-like /v1.0 (group overage lookups)",
    "GROUP_ROLES": "the emulator's Orders-Approvers group as Orders.Admin; production maps its own groups",
    "SESSION_COOKIE_SECURE": "development serves plain http://localhost (testing is Secure, as production)",
    "SESSION_COOKIE_NAME": "a __Host- name needs Secure (testing uses production's)",
    "LOG_FORMAT": "readable text on a laptop; none under pytest",
}


@pytest.mark.parametrize("environment", ["development", "testing"])
def test_development_defaults_differ_from_production_only_where_known(environment):
    production = {k: getattr(config.ProductionConfig, k) for k in dir(config.ProductionConfig) if k.isupper()}
    other = config._CLASSES[environment]
    differing = {k for k in dir(other) if k.isupper() and getattr(other, k) != production.get(k)}
    assert differing <= set(KNOWN_DIFFERENCES), sorted(differing - set(KNOWN_DIFFERENCES))


def test_the_chain_runs_with_v1_access_tokens_when_the_api_accepts_them(start_production_app, new_browser, control):
    """The Orders API registration set to v1.0 tokens (accessTokenAcceptedVersion 1) and the app told so:
    the page, the API tier and on-behalf-of with a v1.0 assertion all work."""
    control.access_token_version("orders-api", 1)
    api = start_production_app(ENABLED_BLUEPRINTS="api", API_ACCEPT_V1_TOKENS="true")
    web = start_production_app(API_BASE_URL=api.url, API_ACCEPT_V1_TOKENS="true")
    issued = record_tokens(web)
    browser = new_browser()
    sign_in(browser, web, MEGAN)
    profile = browser.get(f"{web.url}/profile")
    assert profile.status_code == 200 and "Marketing Manager" in profile.text
    api_tokens = [c for c in map(jwt_claims, issued) if c.get("aud") == APP_ID_URI]
    assert api_tokens and all(c["ver"] == "1.0" for c in api_tokens)
    assert browser.get(f"{web.url}/orders").status_code == 200
