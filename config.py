"""Configuration: the only module that reads the environment.

Flat variable names (DESIGN.md) are the contract. ``load_config()`` picks the
class for ``APP_ENV`` and fills it from the environment; development defaults
point at the local Entra emulator (``python -m entra_emulator``) and use its
generated certificates, so even a laptop runs without client secrets.
Unsafe production settings fail at start-up with one message listing all.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import click

ROOT = Path(__file__).resolve().parent
INSTANCE = ROOT / "instance"
EMULATOR_STATE = INSTANCE / "entra-emulator"

# The development manifest's registrations (entra_emulator/manifest.toml).
DEV_HOME_TENANT_ID = "11111111-1111-4111-8111-111111111111"
DEV_FOREIGN_TENANT_ID = "22222222-2222-4222-8222-222222222222"
DEV_WEB_CLIENT_ID = "0d9e8f7a-6b5c-4d3e-9f2a-1b0c9d8e7f6a"
DEV_API_CLIENT_ID = "6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"
DEV_DAEMON_CLIENT_ID = "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"
DEV_SPA_CLIENT_ID = "f1e2d3c4-b5a6-4978-8a69-5b4c3d2e1f00"  # "Orders SPA": a public client, spa redirect URIs
DEV_EMULATOR_URL = "https://127.0.0.1:5443"
# The manifest's Orders-Approvers security group (members, nested ones included, see the admin pages).
DEV_ORDERS_APPROVERS_GROUP_ID = "f0000006-0000-4000-8000-000000000001"

ENVIRONMENTS = ("development", "testing", "production")


class ConfigError(click.ClickException, RuntimeError):
    """Missing or unsafe settings; the message lists every problem at once.

    A ``ClickException`` so that any ``flask ...`` command run with settings the
    app refuses (``flask entra check`` above all) prints the posture report and
    exits 1 instead of a traceback: Flask's CLI must build the app to find its
    commands, and building it is exactly what the refusal stops.
    """

    def __init__(self, message: str, report: Iterable[tuple[str, str, str]] = ()):
        super().__init__(message)
        self.report = list(report)

    def show(self, file=None) -> None:
        file = file or sys.stderr
        if self.report:
            click.echo(format_report(self.report), file=file)
        click.echo(f"Error: {self.message}", file=file)


class BaseConfig:
    APP_ENV = "development"
    DEBUG = False
    TESTING = False
    SECRET_KEY: str | None = None

    ENTRA_AUTHORITY_HOST = "https://login.microsoftonline.com"
    ENTRA_TENANT_ID = "organizations"
    # A full authority URL instead of host + tenant (workforce, External ID's https://<sub>.ciamlogin.com/<tenant>,
    # or a custom URL domain), and its kind: workforce, ciam or oidc (default: what the host says, else workforce).
    # load_config fills both from host + tenant when ENTRA_AUTHORITY is not set (entra_auth/authorities.py).
    ENTRA_AUTHORITY: str | None = None
    ENTRA_AUTHORITY_KIND: str | None = None
    ENTRA_ALLOWED_TENANTS: list[str] = []
    ENTRA_CLIENT_ID: str | None = None
    ENTRA_CLIENT_SECRET: str | None = None
    ENTRA_CLIENT_CERTIFICATE_PATH: str | None = None
    ENTRA_CLIENT_CREDENTIALS: str | None = None
    ENTRA_CA_BUNDLE: str | None = None

    API_CLIENT_ID: str | None = None
    # App ID URIs (e.g. api://<id>) accepted in addition to API_CLIENT_ID, which is always
    # accepted: a v2.0 token's aud is the client id; only v1.0 tokens carry an App ID URI.
    API_AUDIENCE: list[str] = []
    API_ACCEPT_V1_TOKENS = False  # v1.0 access tokens (issuer https://sts.windows.net/{tid}/) too
    API_CLIENT_SECRET: str | None = None
    API_CLIENT_CERTIFICATE_PATH: str | None = None
    API_CLIENT_CREDENTIALS: str | None = None
    API_ALLOWED_CLIENT_APPS: list[str] = []  # optional allow-list of calling apps (azp/appid)
    API_BASE_URL: str | None = None  # None: this app
    API_SCOPES: list[str] = []
    # Browser origins (a SPA served elsewhere) allowed to call the API tier cross-origin: none by default.
    API_CORS_ORIGINS: list[str] = []
    # The single-page client at /spa/ (served only when SPA_CLIENT_ID is set): its own public registration,
    # and the API's base URL as a browser reaches it (unset: the origin that served the page).
    SPA_CLIENT_ID: str | None = None
    SPA_API_BASE_URL: str | None = None

    # The daemon registration (client credentials, app role Orders.Read.All) used by
    # `flask orders list --as-app`; same credential shapes as the web and API tiers.
    DAEMON_CLIENT_ID: str | None = None
    DAEMON_CLIENT_SECRET: str | None = None
    DAEMON_CLIENT_CERTIFICATE_PATH: str | None = None
    DAEMON_CLIENT_CREDENTIALS: str | None = None
    # Kubernetes workload identity: the projected service-account token file.
    AZURE_FEDERATED_TOKEN_FILE: str | None = None

    DOWNSTREAM_API_BASE_URL = "https://graph.microsoft.com/v1.0"
    DOWNSTREAM_API_SCOPES = ["https://graph.microsoft.com/User.Read"]

    # Security groups as roles (README "Groups"): JSON text {"<group object id>": "Orders.Admin", ...}
    # (or a list of roles per group), checked at start-up; Microsoft Graph answers a groups overage.
    GROUP_ROLES: str | dict = ""
    GRAPH_API_BASE_URL = "https://graph.microsoft.com/v1.0"

    REDIS_URL: str | None = None
    # Production refuses a REDIS_URL that crosses the network in clear (not rediss://, not loopback,
    # not a Unix socket) unless this says the network is private (README: "Redis over plain TCP").
    REDIS_ALLOW_PLAINTEXT = False
    # Fernet keys; the first writes, all read. They also key and seal sessions and sign-in flows
    # (entra_auth/sealed_records.py): the same attacker, the same store, the same rotation.
    TOKEN_CACHE_KEYS: list[str] = []
    PUBLIC_BASE_URL: str | None = None
    ENABLED_BLUEPRINTS = ["web", "api"]

    # How many reverse proxies in front of the app may set X-Forwarded-* (0: none;
    # 1 on App Service, Heroku-style routers and most PaaS). Never more than exist.
    TRUSTED_PROXY_HOPS = 0

    # Flask's own hardening defaults for every environment.
    MAX_CONTENT_LENGTH = 64 * 1024
    SESSION_COOKIE_NAME = "__Host-session"  # __Host-: Secure, Path=/, no Domain, set by this host only
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    SESSION_REFRESH_EACH_REQUEST = False  # written back when changed, not on every request
    SESSION_IDLE_TIMEOUT_SECONDS = 3600
    SESSION_ABSOLUTE_TIMEOUT_SECONDS = 12 * 3600
    # The in-flight sign-in's cookie (SameSite=None; Secure: it must reach Entra's cross-site form_post).
    SIGNIN_COOKIE_NAME = "__Host-signin"
    # Sign-in starts per client address (each writes a ten-minute flow key in Redis): a
    # `limits` string such as "20 per minute" or "20/minute;100/hour". Over it: 429 + Retry-After.
    SIGNIN_RATE_LIMIT = "20 per minute"
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session, which has its own timeouts
    HTTP_TIMEOUT_SECONDS = 5.0
    REDIS_TIMEOUT_SECONDS = 2.0

    # Logging (logging_setup.py): "json" (one object per line), "text", or "none"
    # (leave logging alone: the test runner owns it). LOG_LEVEL applies to every logger.
    LOG_FORMAT: str | None = "json"
    LOG_LEVEL = "INFO"
    # Filled by load_config: the posture's warnings, logged once logging is set up.
    CONFIG_WARNINGS: list[tuple[str, str]] = []


class DevelopmentConfig(BaseConfig):
    APP_ENV = "development"
    # Development signs every cookie with a per-start random key unless one is set.
    ENTRA_AUTHORITY_HOST = DEV_EMULATOR_URL
    ENTRA_TENANT_ID = "organizations"
    ENTRA_ALLOWED_TENANTS = [DEV_HOME_TENANT_ID, DEV_FOREIGN_TENANT_ID]
    ENTRA_CLIENT_ID = DEV_WEB_CLIENT_ID
    ENTRA_CLIENT_CERTIFICATE_PATH = str(EMULATOR_STATE / "credentials" / "orders-web.pem")
    ENTRA_CA_BUNDLE = str(EMULATOR_STATE / "ca.pem")
    API_CLIENT_ID = DEV_API_CLIENT_ID
    API_AUDIENCE = [f"api://{DEV_API_CLIENT_ID}"]  # as the README tells a deployment to set it
    API_CLIENT_CERTIFICATE_PATH = str(EMULATOR_STATE / "credentials" / "orders-api.pem")
    API_SCOPES = [f"api://{DEV_API_CLIENT_ID}/Orders.Read", f"api://{DEV_API_CLIENT_ID}/Orders.Write"]
    DAEMON_CLIENT_ID = DEV_DAEMON_CLIENT_ID
    SPA_CLIENT_ID = DEV_SPA_CLIENT_ID
    DAEMON_CLIENT_CERTIFICATE_PATH = str(EMULATOR_STATE / "credentials" / "daemon.pem")
    DOWNSTREAM_API_BASE_URL = f"{DEV_EMULATOR_URL}/v1.0"
    GRAPH_API_BASE_URL = f"{DEV_EMULATOR_URL}/v1.0"
    GROUP_ROLES = f'{{"{DEV_ORDERS_APPROVERS_GROUP_ID}": "Orders.Admin"}}'
    # ./run serves plain http://localhost: a __Host- cookie needs Secure, which
    # Safari and HTTP clients do not send over plain HTTP. The sign-in cookie
    # stays Secure (SameSite=None requires it; browsers accept it on localhost).
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "orders_session"
    LOG_FORMAT = "text"


class TestingConfig(DevelopmentConfig):
    APP_ENV = "testing"
    TESTING = True
    # Tests run the cookies as production does (the test servers speak HTTPS).
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-session"
    LOG_FORMAT = "none"


class ProductionConfig(BaseConfig):
    APP_ENV = "production"


_CLASSES: dict[str, type[BaseConfig]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}

_STRINGS = (
    "SECRET_KEY",
    "ENTRA_AUTHORITY_HOST",
    "ENTRA_TENANT_ID",
    "ENTRA_AUTHORITY",
    "ENTRA_AUTHORITY_KIND",
    "ENTRA_CLIENT_ID",
    "ENTRA_CLIENT_SECRET",
    "ENTRA_CLIENT_CERTIFICATE_PATH",
    "ENTRA_CLIENT_CREDENTIALS",
    "ENTRA_CA_BUNDLE",
    "API_CLIENT_ID",
    "API_CLIENT_SECRET",
    "API_CLIENT_CERTIFICATE_PATH",
    "API_CLIENT_CREDENTIALS",
    "API_BASE_URL",
    "DAEMON_CLIENT_ID",
    "DAEMON_CLIENT_SECRET",
    "DAEMON_CLIENT_CERTIFICATE_PATH",
    "DAEMON_CLIENT_CREDENTIALS",
    "AZURE_FEDERATED_TOKEN_FILE",
    "DOWNSTREAM_API_BASE_URL",
    "GRAPH_API_BASE_URL",
    "GROUP_ROLES",
    "REDIS_URL",
    "PUBLIC_BASE_URL",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "SIGNIN_RATE_LIMIT",
    "SPA_CLIENT_ID",
    "SPA_API_BASE_URL",
)
_COMMA_LISTS = ("ENTRA_ALLOWED_TENANTS", "API_AUDIENCE", "API_ALLOWED_CLIENT_APPS", "TOKEN_CACHE_KEYS",
                "ENABLED_BLUEPRINTS", "API_CORS_ORIGINS")
_SPACE_LISTS = ("API_SCOPES", "DOWNSTREAM_API_SCOPES")
# Microsoft.Identity.Web's names (appsettings.json's AzureAd section, as environment variables
# AzureAd__Instance etc.) carry over, so a .NET team's settings work here; the flat names win.
_MICROSOFT_IDENTITY_WEB_NAMES = {
    "AzureAd__Instance": "ENTRA_AUTHORITY_HOST",
    "AzureAd__TenantId": "ENTRA_TENANT_ID",
    "AzureAd__Authority": "ENTRA_AUTHORITY",
    "AzureAd__ClientId": "ENTRA_CLIENT_ID",
}
_INTEGERS = ("TRUSTED_PROXY_HOPS", "SESSION_IDLE_TIMEOUT_SECONDS", "SESSION_ABSOLUTE_TIMEOUT_SECONDS")


_BOOLEANS = {"FLASK_DEBUG": "DEBUG",  # Flask's own variable: `flask run --debug` sets it too
             "API_ACCEPT_V1_TOKENS": "API_ACCEPT_V1_TOKENS",
             "REDIS_ALLOW_PLAINTEXT": "REDIS_ALLOW_PLAINTEXT"}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

OK, WARN, FAIL = "ok", "warn", "fail"
PostureItem = tuple[str, str, str]  # (status, item, message): never a secret value


def default_environment(environ: Mapping[str, str]) -> str:
    """``APP_ENV`` when it is not set: production under gunicorn, development elsewhere.

    gunicorn is how the app is deployed (the Procfile), and a deployment that
    forgets ``APP_ENV`` must not run with development's settings (a cookie
    without ``Secure``, a random per-worker ``SECRET_KEY``); on a laptop
    (``./run``, ``flask ...``) development stays the default. gunicorn's arbiter
    sets ``SERVER_SOFTWARE`` before it loads the app.
    """
    return "production" if str(environ.get("SERVER_SOFTWARE", "")).startswith("gunicorn/") else "development"


def parse_environment(
    environ: Mapping[str, str] | None = None, overrides: Mapping | None = None
) -> tuple[dict, list[PostureItem]]:
    """The settings for ``APP_ENV`` (class defaults, then the environment, then ``overrides``),
    and the values that could not be parsed, as ``fail`` items. Never raises.

    An unknown ``APP_ENV`` is judged by the production rules, the strictest.
    """
    environ = os.environ if environ is None else environ
    errors: list[PostureItem] = []
    app_env = (overrides or {}).get("APP_ENV") or environ.get("APP_ENV") or default_environment(environ)
    if app_env not in _CLASSES:
        errors.append((FAIL, "APP_ENV", f"APP_ENV must be one of {', '.join(ENVIRONMENTS)} (got {app_env[:40]!r}; "
                                        "judged by the production rules here)"))
        app_env = "production"
    cls = _CLASSES[app_env]
    settings = {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
    for alias, name in _MICROSOFT_IDENTITY_WEB_NAMES.items():
        value = environ.get(alias) or environ.get(alias.replace("__", ":"))
        if value and not environ.get(name):
            settings[name] = value.strip()
    for name in _STRINGS:
        if environ.get(name):
            settings[name] = environ[name].strip()
    for name in _COMMA_LISTS:
        if environ.get(name):
            settings[name] = [v.strip() for v in environ[name].split(",") if v.strip()]
    for name in _SPACE_LISTS:
        if environ.get(name):
            settings[name] = environ[name].split()
    for name in _INTEGERS:
        if environ.get(name):
            try:
                settings[name] = int(environ[name])
            except ValueError:
                errors.append((FAIL, name, f"{name} must be a whole number (got {environ[name][:20]!r})"))
    for name, key in _BOOLEANS.items():
        if environ.get(name):
            value = environ[name].strip().lower()
            if value in _TRUE or value in _FALSE:
                settings[key] = value in _TRUE
            else:  # a typo must not silently mean "off" (or "on")
                errors.append((FAIL, name, f"{name} must be true or false (got {environ[name][:20]!r})"))
    settings.update(overrides or {})
    settings["APP_ENV"] = app_env
    if settings["ENTRA_AUTHORITY_HOST"]:
        settings["ENTRA_AUTHORITY_HOST"] = settings["ENTRA_AUTHORITY_HOST"].rstrip("/")
    errors += _resolve_authority(settings, environ, overrides or {})
    return settings, errors


def _resolve_authority(settings: dict, environ: Mapping[str, str], overrides: Mapping) -> list[PostureItem]:
    """``ENTRA_AUTHORITY`` and its kind, always set afterwards; host and tenant follow from it when it is given.

    Given as a full URL it wins, as Microsoft.Identity.Web's ``Authority`` does
    for External ID; an ``ENTRA_AUTHORITY_HOST`` or ``ENTRA_TENANT_ID`` set as
    well and saying something else is refused (which one was meant?).
    """
    from entra_auth.authorities import KINDS, Authority

    given = settings.get("ENTRA_AUTHORITY")
    kind = settings.get("ENTRA_AUTHORITY_KIND")
    url = given or f"{settings.get('ENTRA_AUTHORITY_HOST') or ''}/{settings.get('ENTRA_TENANT_ID') or ''}"
    try:
        authority = Authority.parse(str(url), str(kind).strip().lower() if kind else None)
    except ValueError as exc:
        settings["ENTRA_AUTHORITY_KIND"] = str(kind or "")
        if given:
            return [(FAIL, "ENTRA_AUTHORITY", f"ENTRA_AUTHORITY: {exc} (got {str(url)[:80]!r}, kind "
                                              f"{kind or 'from the host'})")]
        if kind and str(kind).strip().lower() not in KINDS:
            return [(FAIL, "ENTRA_AUTHORITY_KIND", f"ENTRA_AUTHORITY_KIND: {exc} (got {str(kind)[:40]!r})")]
        return []  # a bad host or tenant: their own posture rules say what is wrong
    settings["ENTRA_AUTHORITY"], settings["ENTRA_AUTHORITY_KIND"] = authority.url, authority.kind
    if not given:
        return []
    aliases = {alias: name for alias, name in _MICROSOFT_IDENTITY_WEB_NAMES.items()
               if name in ("ENTRA_AUTHORITY_HOST", "ENTRA_TENANT_ID")}
    explicit = {**{aliases[k]: v for k, v in environ.items() if k in aliases},
                **{k: v for k, v in environ.items() if k in ("ENTRA_AUTHORITY_HOST", "ENTRA_TENANT_ID")},
                **{k: v for k, v in overrides.items() if k in ("ENTRA_AUTHORITY_HOST", "ENTRA_TENANT_ID")}}
    derived = {"ENTRA_AUTHORITY_HOST": authority.host, "ENTRA_TENANT_ID": authority.tenant}
    clashes = [name for name, value in explicit.items() if value and str(value).rstrip("/") != derived[name]]
    settings.update(derived)
    if clashes:
        return [(FAIL, "ENTRA_AUTHORITY", f"ENTRA_AUTHORITY ({authority.url}) and {' and '.join(sorted(clashes))} "
                                          "name different authorities: set the full URL or host + tenant, not both")]
    return []


def load_config(environ: Mapping[str, str] | None = None, overrides: Mapping | None = None) -> dict:
    """The settings for ``APP_ENV``, or ``ConfigError`` listing every ``fail`` of the posture at once.

    The posture's warnings travel in ``CONFIG_WARNINGS`` (logged at start-up in production).
    """
    settings, report = environment_posture(environ, overrides)
    raw_env = (overrides or {}).get("APP_ENV") or (os.environ if environ is None else environ).get("APP_ENV")
    failures = [message for status, _, message in report if status == FAIL]
    if failures:
        label = settings["APP_ENV"] if not raw_env or raw_env == settings["APP_ENV"] else f"APP_ENV={raw_env[:40]}"
        raise ConfigError(f"Refusing to start ({label}): " + "; ".join(failures) + ".", report)
    settings["CONFIG_WARNINGS"] = [(item, message) for status, item, message in report if status == WARN]
    return settings


def environment_posture(
    environ: Mapping[str, str] | None = None, overrides: Mapping | None = None
) -> tuple[dict, list[PostureItem]]:
    """The settings and their whole posture report (parse errors first). Never raises."""
    settings, errors = parse_environment(environ, overrides)
    unparsed = {item for _, item, _ in errors}
    return settings, errors + [entry for entry in posture(settings) if entry[1] not in unparsed]


def problems(settings: Mapping) -> list[str]:
    """Every missing or unsafe setting (the posture's ``fail`` items), as sentences naming the variable."""
    return [message for status, _, message in posture(settings) if status == FAIL]


def check(settings: Mapping) -> None:
    found = problems(settings)
    if found:
        raise ConfigError(f"Refusing to start ({settings['APP_ENV']}): " + "; ".join(found) + ".",
                          posture(settings))


def format_report(report: Iterable[PostureItem]) -> str:
    """The posture as text: one ``status  item  message`` line each, then a count."""
    report = list(report)
    width = max((len(item) for _, item, _ in report), default=0)
    lines = [f"{status:<4}  {item:<{width}}  {message}" for status, item, message in report]
    counts = {s: sum(1 for status, _, _ in report if status == s) for s in (OK, WARN, FAIL)}
    lines.append(f"{counts[OK]} ok, {counts[WARN]} warn, {counts[FAIL]} fail")
    return "\n".join(lines)


# -- the posture ----------------------------------------------------------------------------------------
#
# Every rule yields one item. Rules marked "production" are refused (fail) in
# production; in development and testing the same finding is a warning that
# says production would refuse it, so `flask entra check` on a laptop shows
# what a deployment still needs. The other rules fail in every environment
# (they would break the app anyway, later and less clearly).
#
# "A secret in a file under the repository" means: a credential file the app
# is configured to read (a certificate's private key: *_CERTIFICATE_PATH or a
# ClientCredentials "Path"/"CertificateDiskPath"; a federated token file:
# "SignedAssertionFileDiskPath" or AZURE_FEDERATED_TOKEN_FILE) whose real path
# (symlinks followed, relative paths from the working folder) lies inside this
# repository's folder, git-ignored parts such as instance/ included -- on a
# PaaS that folder *is* the deployed package, copied to every build, slot and
# backup -- or a .env/.flaskenv file in it that assigns SECRET_KEY,
# TOKEN_CACHE_KEYS, a *_CLIENT_SECRET or a *_CLIENT_CREDENTIALS with a
# ClientSecret. Secrets belong in the platform's settings, a mounted secret
# store or Key Vault, never beside the code.

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_CREDENTIAL_TIERS = (("web", "ENTRA_CLIENT"), ("API", "API_CLIENT"), ("daemon", "DAEMON_CLIENT"))
_DOTENV_FILES = (".env", ".flaskenv")
# ClientCredentials fields that hold a secret themselves (a password unlocks the certificate's key).
_SECRET_CREDENTIAL_FIELDS = ("clientsecret", "certificatepassword")
_DOTENV_SECRET = re.compile(
    r"^\s*(?:export\s+)?(SECRET_KEY|TOKEN_CACHE_KEYS|\w+_CLIENT_SECRET|\w+_CLIENT_CREDENTIALS)\s*=\s*(.*)$", re.M)
_PLACEHOLDER_WORDS = ("changeme", "password", "secret", "example", "default", "insecure", "placeholder", "devonly")
_EMULATOR_CA_ORGANIZATION = "Entra emulator"  # entra_emulator/pki.py names its CA so


def posture(settings: Mapping, *, repo_root: Path | None = None) -> list[PostureItem]:
    """The security posture of ``settings``: ``(status, item, message)`` per rule, status ok/warn/fail.

    Reads only the settings and local files (the CA bundle, .env files); never
    the network. Messages name variables, hosts and paths, never a secret value.
    """
    root = (repo_root or ROOT).resolve()
    production = settings.get("APP_ENV") == "production"
    report: list[PostureItem] = []

    def add(status: str, item: str, message: str) -> None:
        report.append((status, item, message))

    def production_rule(item: str, message: str | None, ok_message: str) -> None:
        """A rule refused in production; elsewhere its finding is a warning."""
        if message is None:
            add(OK, item, ok_message)
        elif production:
            add(FAIL, item, message)
        else:
            add(WARN, item, f"{message} (allowed in {settings.get('APP_ENV')}; production refuses it)")

    add(OK, "APP_ENV", settings.get("APP_ENV", "?"))
    blueprints = set(settings.get("ENABLED_BLUEPRINTS") or [])
    unknown = blueprints - {"web", "api"}
    if unknown or not blueprints:
        add(FAIL, "ENABLED_BLUEPRINTS", f"ENABLED_BLUEPRINTS must name web and/or api (got {sorted(blueprints)})")
    else:
        add(OK, "ENABLED_BLUEPRINTS", ", ".join(sorted(blueprints)))
    if "web" in blueprints:
        if settings.get("ENTRA_CLIENT_ID"):
            add(OK, "ENTRA_CLIENT_ID", str(settings["ENTRA_CLIENT_ID"]))
        else:
            add(FAIL, "ENTRA_CLIENT_ID", "ENTRA_CLIENT_ID is required for the web tier")
    if "api" in blueprints:
        if settings.get("API_CLIENT_ID"):
            add(OK, "API_CLIENT_ID", str(settings["API_CLIENT_ID"]))
            add(OK, "API audiences", _accepted_audiences(settings))
        else:
            add(FAIL, "API_CLIENT_ID", "API_CLIENT_ID is required for the API tier (the Orders API registration's "
                                       "client id: the audience of its v2.0 access tokens)")

    tenant = str(settings.get("ENTRA_TENANT_ID") or "").lower()
    if not tenant:
        add(FAIL, "ENTRA_TENANT_ID",
            "ENTRA_TENANT_ID is required (a tenant id, or organizations with ENTRA_ALLOWED_TENANTS)")
    elif tenant in ("organizations", "common") and not settings.get("ENTRA_ALLOWED_TENANTS"):
        add(FAIL, "ENTRA_TENANT_ID",
            f"ENTRA_TENANT_ID={tenant} needs ENTRA_ALLOWED_TENANTS (the tenant ids allowed to sign in)")
    elif tenant == "consumers":
        add(FAIL, "ENTRA_TENANT_ID", "ENTRA_TENANT_ID=consumers is not supported: this is a work-account app")
    elif (tenant not in ("organizations", "common") and not _GUID.fullmatch(tenant)
          and settings.get("ENTRA_AUTHORITY_KIND") in ("ciam", "oidc") and settings.get("ENTRA_ALLOWED_TENANTS")):
        # External ID's documented authority names the tenant by domain (contoso.onmicrosoft.com);
        # its tokens carry the GUID, which the allow-list names.
        add(OK, "ENTRA_TENANT_ID", f"{tenant} (by domain), allowed tenants {', '.join(settings['ENTRA_ALLOWED_TENANTS'])}")
    elif tenant not in ("organizations", "common") and not _GUID.fullmatch(tenant):
        # Entra accepts a domain in the authority URL, but every token carries the tenant's GUID in
        # `tid`: with a domain here, each one would be refused as from a foreign tenant.
        by_domain = (" (or, for an External ID or custom-domain authority named by domain, set ENTRA_ALLOWED_TENANTS "
                     "to its tenant id)") if settings.get("ENTRA_AUTHORITY_KIND") in ("ciam", "oidc") else ""
        add(FAIL, "ENTRA_TENANT_ID", f"ENTRA_TENANT_ID must be the tenant id, a GUID{by_domain} (got {tenant[:60]!r}: a domain "
                                     "name? tokens carry the GUID; it is the \"Tenant ID\" on the Entra admin "
                                     "center's overview, or the GUID in the issuer of "
                                     "https://login.microsoftonline.com/<domain>/v2.0/.well-known/openid-configuration)")
    elif tenant in ("organizations", "common"):
        add(OK, "ENTRA_TENANT_ID", f"{tenant}, allowed tenants {', '.join(settings['ENTRA_ALLOWED_TENANTS'])}")
    else:
        add(OK, "ENTRA_TENANT_ID", tenant)
    not_guids = [t for t in settings.get("ENTRA_ALLOWED_TENANTS") or [] if not _GUID.fullmatch(str(t))]
    if not_guids:
        add(FAIL, "ENTRA_ALLOWED_TENANTS", f"ENTRA_ALLOWED_TENANTS must list tenant ids (GUIDs), not "
                                           f"{', '.join(repr(t[:60]) for t in not_guids)}: tokens carry the GUID")

    authority = str(settings.get("ENTRA_AUTHORITY_HOST") or "")
    if authority.startswith("https://"):
        add(OK, "ENTRA_AUTHORITY_HOST", authority)
    else:
        add(FAIL, "ENTRA_AUTHORITY_HOST", "ENTRA_AUTHORITY_HOST must be an https:// URL")
    report.extend(_authority_items(settings, production_rule))
    ca_bundle = settings.get("ENTRA_CA_BUNDLE")
    if ca_bundle and not Path(ca_bundle).is_file():
        hint = " (start the local stack with ./run, or `python -m entra_emulator`, to create it)" if (
            Path(ca_bundle).parent == EMULATOR_STATE) else ""
        add(FAIL, "ENTRA_CA_BUNDLE", f"ENTRA_CA_BUNDLE names a file that does not exist: {ca_bundle}{hint}")
    else:
        add(OK, "ENTRA_CA_BUNDLE", str(ca_bundle) if ca_bundle else "not set (the system's trust store)")
    production_rule("emulator", _emulator_finding(authority, ca_bundle),
                    "the identity provider is not the local emulator")

    secret_weakness = _secret_key_weakness(str(settings.get("SECRET_KEY") or ""))
    if secret_weakness is None:
        production_rule("SECRET_KEY", None, "set, long and varied")
    elif not settings.get("SECRET_KEY"):
        production_rule("SECRET_KEY", "SECRET_KEY is required in production (at least 32 random characters)", "")
    else:
        production_rule("SECRET_KEY", f"SECRET_KEY is required in production (at least 32 random characters): "
                                      f"the one set {secret_weakness}", "")

    redis_url = settings.get("REDIS_URL")
    if redis_url and not _redis_is_private(str(redis_url)):
        # Sealed sessions and encrypted caches stay unreadable on the wire, but Redis's AUTH
        # password, the commands and the orders do not, and a man in the middle can drop or replay.
        in_clear = (f"{_describe_redis(redis_url)} is not TLS: Redis's password, the orders and every "
                    "command cross the network in clear")
        if settings.get("REDIS_ALLOW_PLAINTEXT"):
            add(WARN, "REDIS_URL", f"{in_clear} (allowed by REDIS_ALLOW_PLAINTEXT=true, for a private network)")
        else:
            production_rule("REDIS_URL", f"{in_clear}: use rediss:// (Azure Cache for Redis listens on 6380), or "
                                         "set REDIS_ALLOW_PLAINTEXT=true if this network is private", "")
    else:
        production_rule("REDIS_URL", None if redis_url else
                        "REDIS_URL is required in production (the embedded Redis is for development)",
                        _describe_redis(redis_url))

    keys = list(settings.get("TOKEN_CACHE_KEYS") or [])
    bad_keys = [str(i + 1) for i, key in enumerate(keys) if not _is_fernet_key(key)]
    if bad_keys:
        add(FAIL, "TOKEN_CACHE_KEYS", f"TOKEN_CACHE_KEYS entry {', '.join(bad_keys)} of {len(keys)} is not a Fernet "
                                      "key (url-safe base64 of 32 bytes: `python -c 'from cryptography.fernet import "
                                      "Fernet; print(Fernet.generate_key().decode())'`)")
    else:
        production_rule("TOKEN_CACHE_KEYS", None if keys else
                        "TOKEN_CACHE_KEYS is required in production (url-safe base64 32-byte keys)",
                        f"{len(keys)} key(s); the first encrypts, all decrypt")

    production_rule("DEBUG", "DEBUG must be off in production" if settings.get("DEBUG") else None, "off")
    production_rule("SESSION_COOKIE_SECURE", None if settings.get("SESSION_COOKIE_SECURE") else
                    "the session cookie must be Secure in production", "Secure, HttpOnly, "
                    f"SameSite={settings.get('SESSION_COOKIE_SAMESITE')}")

    log_format = str(settings.get("LOG_FORMAT") or "none").lower()
    log_level = str(settings.get("LOG_LEVEL") or "INFO").upper()
    if log_format not in ("json", "text", "none") or not isinstance(logging.getLevelName(log_level), int):
        add(FAIL, "LOG_FORMAT", "LOG_FORMAT must be json, text or none and LOG_LEVEL a level name such as INFO")
    elif production and log_level == "DEBUG":
        add(WARN, "LOG_LEVEL", "DEBUG: MSAL then logs its token requests (authorization codes and PKCE verifiers; "
                               "the log filter scrubs them, but keep DEBUG short)")
    else:
        add(OK, "LOG_FORMAT", f"{log_format}, {log_level}")

    hops = settings.get("TRUSTED_PROXY_HOPS", 0)
    public = settings.get("PUBLIC_BASE_URL")
    if not isinstance(hops, int) or hops < 0:
        add(FAIL, "TRUSTED_PROXY_HOPS", "TRUSTED_PROXY_HOPS must be 0 or more")
    elif public:
        production_rule("PUBLIC_BASE_URL", None if str(public).startswith("https://") else
                        "PUBLIC_BASE_URL must be an https:// URL (Entra accepts http redirect URIs only for localhost)",
                        f"{public} (redirect URIs never come from request headers)")
    elif hops:
        add(OK, "TRUSTED_PROXY_HOPS", f"{hops}: redirect URIs from X-Forwarded-* set by the last {hops} proxy hop(s) "
                                      "(PUBLIC_BASE_URL is sturdier)")
    elif production:
        add(WARN, "TRUSTED_PROXY_HOPS", "0 and no PUBLIC_BASE_URL: redirect URIs come from the request as the server "
                                        "sees it, http:// behind a TLS-terminating proxy; set PUBLIC_BASE_URL (or "
                                        "TRUSTED_PROXY_HOPS=1 on App Service and most PaaS)")
    else:
        add(OK, "TRUSTED_PROXY_HOPS", "0: forwarded headers are ignored")
    if "web" in blueprints:
        report.append(_sign_in_rate_limit_item(settings.get("SIGNIN_RATE_LIMIT")))
    if "api" in blueprints:
        report.append(_cors_origins_item(settings.get("API_CORS_ORIGINS") or [], production))
    report.append(_group_roles_item(settings))
    for name in ("API_BASE_URL", "DOWNSTREAM_API_BASE_URL", "SPA_API_BASE_URL", "GRAPH_API_BASE_URL"):
        url = settings.get(name)
        if url and not str(url).startswith("https://") and not _is_local_url(str(url)):
            production_rule(name, f"{name} must be https:// (bearer tokens would cross the network in clear text)", "")

    credential_files: list[tuple[str, str]] = []  # (setting, path)
    for tier, prefix in _CREDENTIAL_TIERS:
        needed = (tier == "web" and "web" in blueprints) or (tier == "API" and "api" in blueprints) or (
            tier == "daemon" and settings.get("DAEMON_CLIENT_ID"))
        if needed:
            report.append(_credential_item(tier, prefix, settings, credential_files))
    in_repo = [f"{origin}: {path}" for origin, path in credential_files if _inside(path, root)]
    production_rule("credential files", (
        f"secret credential files inside the app's folder ({root}): {', '.join(in_repo)} (mount them from a secret "
        "store outside it)") if in_repo else None, "none inside the app's folder" if credential_files else "none used")
    loose = [f"{origin}: {path} (mode {mode:03o})" for origin, path in credential_files
             if (mode := _file_mode(path)) is not None and mode & 0o077]
    if loose:
        message = (f"credential files readable by group or others: {', '.join(loose)} (chmod 600; a private key or "
                   "a federated token file is a secret)")
        add(WARN if production else OK, "credential file modes",
            message if production else f"{message} (production warns)")
    dotenv = _dotenv_secrets(root)
    production_rule("dotenv files", f"secrets written in files of the app's folder: {', '.join(dotenv)} (set them "
                                    "in the platform's settings instead)" if dotenv else None, "no secret in .env files")
    return report


def _authority_items(settings: Mapping, production_rule) -> list[PostureItem]:
    """The authority's kind, the issuers it accepts and where its keys come from; a kind its host contradicts
    (an External ID authority judged by the workforce rule, or the reverse) is refused in production."""
    from entra_auth.authorities import CIAM, OIDC, WORKFORCE, Authority, kind_from_host

    url, kind = settings.get("ENTRA_AUTHORITY"), settings.get("ENTRA_AUTHORITY_KIND")
    try:
        authority = Authority.parse(str(url), str(kind)) if url else None
    except ValueError:
        authority = None  # parse_environment reported it already
    if authority is None:
        return []
    items: list[PostureItem] = []
    said = kind_from_host(authority.hostname)
    mismatch = None
    if said == CIAM and authority.kind != CIAM:
        mismatch = (f"ENTRA_AUTHORITY {authority.url} is an External ID (ciamlogin.com) authority but "
                    f"ENTRA_AUTHORITY_KIND={authority.kind}: its issuer https://<tid>.ciamlogin.com/<tid>/v2.0 would be "
                    f"judged by the {authority.kind} rule (set ENTRA_AUTHORITY_KIND=ciam)")
    elif said == WORKFORCE and authority.kind != WORKFORCE:
        mismatch = (f"ENTRA_AUTHORITY {authority.url} is a workforce authority but ENTRA_AUTHORITY_KIND="
                    f"{authority.kind}: its issuer is a workforce issuer, {authority.host}/<tid>/v2.0, which the "
                    f"{authority.kind} rule does not expect (set ENTRA_AUTHORITY_KIND=workforce)")
    production_rule("ENTRA_AUTHORITY", mismatch, f"{authority.url} (kind {authority.kind}"
                    + (", MSAL's oidc_authority" if authority.kind == OIDC else "") + ")")
    if authority.kind == CIAM and said is None and not _is_local_host(authority.hostname):
        # The ciam rule knows the ciamlogin.com issuer only; a custom URL domain is MSAL Python's oidc_authority.
        items.append((WARN, "ENTRA_AUTHORITY_KIND", f"ciam on {authority.hostname}, which is not ciamlogin.com: an "
                                                    "External ID custom URL domain? Set ENTRA_AUTHORITY_KIND=oidc "
                                                    "(and the authority to https://<domain>/<tenant id>/v2.0)"))
    if authority.kind != WORKFORCE and settings.get("API_ACCEPT_V1_TOKENS"):
        # A v1.0 token's issuer is the workforce https://sts.windows.net/<tid>/: External ID documents only its
        # own v2.0 issuer, so accepting v1.0 would judge customers' tokens by a workforce rule.
        production_rule("API_ACCEPT_V1_TOKENS",
                        f"API_ACCEPT_V1_TOKENS=true with a {authority.kind} authority: v1.0 tokens carry the "
                        "workforce issuer https://sts.windows.net/<tid>/, not External ID's; leave it off", "")
    tenants = list(settings.get("ENTRA_ALLOWED_TENANTS") or []) or [authority.tenant]
    shapes = "; ".join(authority.issuer_shapes())
    items.append((OK, "accepted issuer", f"the discovery document's issuer, when it has the {authority.kind} "
                                         f"shape {shapes}, for tid {', '.join(tenants)} (v1.0 tokens: "
                                         f"https://sts.windows.net/<tid>/ when API_ACCEPT_V1_TOKENS)"))
    items.append((OK, "signing keys", f"the jwks_uri of {authority.discovery_url}"))
    return items


def _sign_in_rate_limit_item(value: object) -> PostureItem:
    """A limit Flask-Limiter cannot parse would be skipped (no limit at all): refused everywhere."""
    from limits import parse_many  # the rate-limit library's own parser, so what passes here is what runs

    try:
        parsed = parse_many(str(value or ""))
    except ValueError:
        parsed = []
    if not parsed or any(item.amount < 1 for item in parsed):
        return (FAIL, "SIGNIN_RATE_LIMIT", f"SIGNIN_RATE_LIMIT must be a rate such as '20 per minute' or "
                                           f"'20/minute;100/hour' (got {str(value)[:40]!r})")
    return (OK, "SIGNIN_RATE_LIMIT", f"{'; '.join(str(item) for item in parsed)} sign-in starts per client address")


def _cors_origins_item(origins: list[str], production: bool) -> PostureItem:
    """API_CORS_ORIGINS: exact origins (flask-cors never matches "https://x/" to the origin https://x);
    ``*`` lets any site's script call the API with a token it holds: refused in production."""
    if not origins:
        return OK, "API_CORS_ORIGINS", "none: no browser origin may call the API cross-origin"
    malformed = [o for o in origins if o != "*" and not _is_origin(o)]
    if malformed:
        return FAIL, "API_CORS_ORIGINS", (f"API_CORS_ORIGINS must list origins such as https://spa.example.com (scheme, "
                                          f"host and port only; no wildcards or patterns: list each origin), not "
                                          f"{', '.join(repr(o[:60]) for o in malformed)}")
    if "*" in origins:
        message = "API_CORS_ORIGINS=* lets scripts of every site call the API: list the SPA's origins"
        return (FAIL, "API_CORS_ORIGINS", message) if production else (
            WARN, "API_CORS_ORIGINS", f"{message} (production refuses it)")
    # A plain-http page is rewritten by anyone on its network path, whose script would then read what the
    # page's token obtains; Entra registers no http redirect URI but localhost's either (reply-url restrictions).
    in_clear = [o for o in origins if o.lower().startswith("http://") and not _is_local_url(o)]
    if in_clear:
        message = (f"API_CORS_ORIGINS lists {', '.join(in_clear)}: a SPA origin must be https:// (only loopback "
                   "may be http://, as for Entra's redirect URIs)")
        return (FAIL, "API_CORS_ORIGINS", message) if production else (
            WARN, "API_CORS_ORIGINS", f"{message} (production refuses it)")
    return OK, "API_CORS_ORIGINS", ", ".join(origins)


# A host name of an origin: DNS labels (letters, digits, hyphens) or an IP literal. Nothing else, because
# flask-cors reads an entry holding one of *?$^[]()\\ as a regular expression and matches it as a *prefix*
# ("https://*.contoso.com" would grant https://xcontoso.com.evil.example).
_ORIGIN_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")


def _is_origin(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port
    except ValueError:  # a bad port, or "[...]" that is no IPv6 address
        return False
    host = parts.hostname or ""
    if not _ORIGIN_HOST.fullmatch(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
    return (parts.scheme in ("https", "http") and not parts.username
            and f"{parts.scheme}://{parts.netloc}" == value)


def _group_roles_item(settings: Mapping) -> PostureItem:
    """GROUP_ROLES parsed as the app will use it (a malformed map fails everywhere: it would decide access),
    with the mapped groups and where a groups overage is resolved."""
    from entra_auth.group_membership import MEMBER_OBJECTS_PATH, MEMBERSHIP_PERMISSION
    from entra_auth.group_roles import GroupRolesError, describe_group_roles, parse_group_roles

    try:
        group_roles = parse_group_roles(settings.get("GROUP_ROLES"))
    except GroupRolesError as exc:
        return FAIL, "GROUP_ROLES", str(exc)
    if not group_roles:
        return OK, "GROUP_ROLES", "no group mapped: roles come from the roles claim only"
    graph = str(settings.get("GRAPH_API_BASE_URL") or "").rstrip("/")
    return OK, "GROUP_ROLES", (f"{len(group_roles)} group(s) mapped: {describe_group_roles(group_roles)}; a groups "
                               f"overage is resolved by POST {graph}/{MEMBER_OBJECTS_PATH} (permission "
                               f"{MEMBERSHIP_PERMISSION})")


def _credential_item(tier: str, prefix: str, settings: Mapping, files: list[tuple[str, str]]) -> PostureItem:
    """One tier's client credential: configured at all, parseable, and not only secrets (no network)."""
    from entra_auth.credentials import CredentialConfigError, parse_client_credentials

    item = f"{tier} credential"
    try:
        sources = parse_client_credentials(prefix, settings)
    except CredentialConfigError as exc:  # its messages never quote a secret (credentials.py's contract)
        return FAIL, item, str(exc)
    if not sources:
        return FAIL, item, (f"no client credential for the {tier} tier: set {prefix}_CREDENTIALS (managed identity "
                            f"or certificate), {prefix}_CERTIFICATE_PATH or {prefix}_SECRET")
    for source in sources:
        path = getattr(source, "path", None)
        if path:
            files.append((source.origin, path))
    described = "; ".join(source.describe() for source in sources)
    if all(source.kind == "client_secret" for source in sources):
        return WARN, item, (f"only client secrets ({described}): prefer a managed identity as federated credential, "
                            "or a certificate")
    return OK, item, described


def _accepted_audiences(settings: Mapping) -> str:
    """The bearer tokens' accepted ``aud`` per token version, from the validator's own rule."""
    from entra_auth.jwt_validation import policy_from_settings

    policy = policy_from_settings("", str(settings["API_CLIENT_ID"]), (),
                                  app_id_uris=settings.get("API_AUDIENCE") or [],
                                  accept_v1=bool(settings.get("API_ACCEPT_V1_TOKENS")))
    v2 = ", ".join(sorted(policy.audiences_for("2.0")))
    v1 = ", ".join(sorted(policy.audiences_for("1.0"))) or "refused (API_ACCEPT_V1_TOKENS is off)"
    text = f"v2.0 tokens: aud {v2}; v1.0 tokens: {'aud ' if policy.accept_v1 else ''}{v1}"
    if policy.app_id_uris and not policy.accept_v1:
        text += f" (API_AUDIENCE's {', '.join(sorted(policy.app_id_uris))} is the aud of v1.0 tokens only)"
    return text


def _secret_key_weakness(value: str) -> str | None:
    """Why ``value`` is no good as SECRET_KEY, or None. Never echoes the value."""
    if len(value) < 32:
        return f"has {len(value)} characters"
    folded = re.sub(r"[^a-z0-9]", "", value.lower())
    if any(word in folded for word in _PLACEHOLDER_WORDS):
        return "looks like a placeholder (it contains a common word)"
    if len(set(value)) < 10:
        return "has too little variety (fewer than 10 different characters)"
    trigrams = {value[i:i + 3] for i in range(len(value) - 2)}
    if len(trigrams) < 0.75 * (len(value) - 2):
        return "is repetitive"
    return None


def _emulator_finding(authority: str, ca_bundle: str | None) -> str | None:
    """Why the settings point at the local Entra emulator (a dev and test tool), or None."""
    signs = []
    host = (urlsplit(authority).hostname or "") if authority else ""
    if host and _is_local_host(host):
        signs.append(f"ENTRA_AUTHORITY_HOST is a local address ({host})")
    if ca_bundle:
        if _inside(ca_bundle, EMULATOR_STATE):
            signs.append("ENTRA_CA_BUNDLE is in the emulator's state folder")
        elif _is_emulator_ca(ca_bundle):
            signs.append("ENTRA_CA_BUNDLE is the emulator's CA")
    return "the local Entra emulator is configured: " + " and ".join(signs) if signs else None


def _is_local_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith((".localhost", ".invalid")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _is_local_url(url: str) -> bool:
    return _is_local_host(urlsplit(url).hostname or "")


def _is_emulator_ca(path: str) -> bool:
    try:
        stat = os.stat(path)
    except OSError:
        return False
    return _holds_emulator_ca(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _holds_emulator_ca(path: str, mtime_ns: int, size: int) -> bool:
    """Whether the PEM bundle at ``path`` holds the emulator's CA (cached per file version)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        with warnings.catch_warnings():  # old CAs in system bundles make cryptography warn
            warnings.simplefilter("ignore")
            certificates = x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError):
        return False
    return any(_EMULATOR_CA_ORGANIZATION in str(attr.value)
               for cert in certificates for attr in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))


def _is_fernet_key(key: object) -> bool:
    from cryptography.fernet import Fernet

    try:
        Fernet(key.encode() if isinstance(key, str) else key)  # type: ignore[arg-type]
    except (ValueError, TypeError):  # binascii.Error is a ValueError
        return False
    return True


def _describe_redis(url: str | None) -> str:
    """Scheme, host and port only: a Redis URL may carry a password."""
    if not url:
        return "not set: an embedded Redis (development only)"
    parts = urlsplit(str(url))
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}"


def _redis_is_private(url: str) -> bool:
    """TLS, a Unix socket, or loopback servers only (a sidecar): nothing crosses the network in clear."""
    parts = urlsplit(url)
    if parts.scheme in ("rediss", "rediss+cluster", "rediss+sentinel", "unix"):
        return True
    # A Cluster or Sentinel URL lists several host:port pairs: every one must be loopback.
    hosts = [urlsplit(f"//{pair}").hostname or "" for pair in parts.netloc.rpartition("@")[2].split(",")]
    return all(_is_local_host(host) for host in hosts)


def _inside(path: str | os.PathLike, folder: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except (OSError, RuntimeError, ValueError):
        return False


def _file_mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return None


def _dotenv_secrets(root: Path) -> list[str]:
    """``.env``-style files in the app's folder that assign a secret (names only)."""
    found = []
    for name in _DOTENV_FILES:
        try:
            text = (root / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        names = sorted({m.group(1) for m in _DOTENV_SECRET.finditer(text)
                        if m.group(2).strip() and (not m.group(1).endswith("_CREDENTIALS")
                                                   or any(field in m.group(2).lower()
                                                          for field in _SECRET_CREDENTIAL_FIELDS))})
        if names:
            found.append(f"{name} sets {', '.join(names)}")
    return found
