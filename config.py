"""Configuration: the only module that reads the environment.

Flat variable names (DESIGN.md) are the contract. ``load_config()`` picks the
class for ``APP_ENV`` and fills it from the environment; development defaults
point at the local Entra emulator (``python -m entra_emulator``) and use its
generated certificates, so even a laptop runs without client secrets.
Unsafe production settings fail at start-up with one message listing all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent
INSTANCE = ROOT / "instance"
EMULATOR_STATE = INSTANCE / "entra-emulator"

# The development manifest's registrations (entra_emulator/manifest.toml).
DEV_HOME_TENANT_ID = "11111111-1111-4111-8111-111111111111"
DEV_FOREIGN_TENANT_ID = "22222222-2222-4222-8222-222222222222"
DEV_WEB_CLIENT_ID = "0d9e8f7a-6b5c-4d3e-9f2a-1b0c9d8e7f6a"
DEV_API_CLIENT_ID = "6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"
DEV_DAEMON_CLIENT_ID = "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"
DEV_EMULATOR_URL = "https://127.0.0.1:5443"

ENVIRONMENTS = ("development", "testing", "production")


class ConfigError(RuntimeError):
    """Missing or unsafe settings; the message lists every problem at once."""


class BaseConfig:
    APP_ENV = "development"
    DEBUG = False
    TESTING = False
    SECRET_KEY: str | None = None

    ENTRA_AUTHORITY_HOST = "https://login.microsoftonline.com"
    ENTRA_TENANT_ID = "organizations"
    ENTRA_ALLOWED_TENANTS: list[str] = []
    ENTRA_CLIENT_ID: str | None = None
    ENTRA_CLIENT_SECRET: str | None = None
    ENTRA_CLIENT_CERTIFICATE_PATH: str | None = None
    ENTRA_CLIENT_CREDENTIALS: str | None = None
    ENTRA_CA_BUNDLE: str | None = None

    API_CLIENT_ID: str | None = None
    API_AUDIENCE: list[str] = []
    API_CLIENT_SECRET: str | None = None
    API_CLIENT_CERTIFICATE_PATH: str | None = None
    API_CLIENT_CREDENTIALS: str | None = None
    API_ALLOWED_CLIENT_APPS: list[str] = []  # optional allow-list of calling apps (azp/appid)
    API_BASE_URL: str | None = None  # None: this app
    API_SCOPES: list[str] = []

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

    REDIS_URL: str | None = None
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
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session, which has its own timeouts
    HTTP_TIMEOUT_SECONDS = 5.0
    REDIS_TIMEOUT_SECONDS = 2.0


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
    API_AUDIENCE = [DEV_API_CLIENT_ID, f"api://{DEV_API_CLIENT_ID}"]
    API_CLIENT_CERTIFICATE_PATH = str(EMULATOR_STATE / "credentials" / "orders-api.pem")
    API_SCOPES = [f"api://{DEV_API_CLIENT_ID}/Orders.Read", f"api://{DEV_API_CLIENT_ID}/Orders.Write"]
    DAEMON_CLIENT_ID = DEV_DAEMON_CLIENT_ID
    DAEMON_CLIENT_CERTIFICATE_PATH = str(EMULATOR_STATE / "credentials" / "daemon.pem")
    DOWNSTREAM_API_BASE_URL = f"{DEV_EMULATOR_URL}/v1.0"
    # ./run serves plain http://localhost: a __Host- cookie needs Secure, which
    # Safari and HTTP clients do not send over plain HTTP. The sign-in cookie
    # stays Secure (SameSite=None requires it; browsers accept it on localhost).
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "orders_session"


class TestingConfig(DevelopmentConfig):
    APP_ENV = "testing"
    TESTING = True
    # Tests run the cookies as production does (the test servers speak HTTPS).
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-session"


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
    "REDIS_URL",
    "PUBLIC_BASE_URL",
)
_COMMA_LISTS = ("ENTRA_ALLOWED_TENANTS", "API_AUDIENCE", "API_ALLOWED_CLIENT_APPS", "TOKEN_CACHE_KEYS", "ENABLED_BLUEPRINTS")
_SPACE_LISTS = ("API_SCOPES", "DOWNSTREAM_API_SCOPES")
_INTEGERS = ("TRUSTED_PROXY_HOPS", "SESSION_IDLE_TIMEOUT_SECONDS", "SESSION_ABSOLUTE_TIMEOUT_SECONDS")


def load_config(environ: Mapping[str, str] | None = None, overrides: Mapping | None = None) -> dict:
    """The settings for ``APP_ENV``: class defaults, then the environment, then ``overrides``."""
    environ = os.environ if environ is None else environ
    app_env = (overrides or {}).get("APP_ENV") or environ.get("APP_ENV") or "development"
    if app_env not in _CLASSES:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)} (got {app_env!r})")
    cls = _CLASSES[app_env]
    settings = {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
    for name in _STRINGS:
        if environ.get(name):
            settings[name] = environ[name].strip()
    for name in _COMMA_LISTS:
        if environ.get(name):
            settings[name] = [v.strip() for v in environ[name].split(",") if v.strip()]
    for name in _SPACE_LISTS:
        if environ.get(name):
            settings[name] = environ[name].split()
    bad_integers = []
    for name in _INTEGERS:
        if environ.get(name):
            try:
                settings[name] = int(environ[name])
            except ValueError:
                bad_integers.append(f"{name} must be a whole number (got {environ[name]!r})")
    if bad_integers:
        raise ConfigError(f"Refusing to start ({app_env}): " + "; ".join(bad_integers) + ".")
    settings.update(overrides or {})
    settings["APP_ENV"] = app_env
    if settings["ENTRA_AUTHORITY_HOST"]:
        settings["ENTRA_AUTHORITY_HOST"] = settings["ENTRA_AUTHORITY_HOST"].rstrip("/")
    check(settings)
    return settings


def problems(settings: Mapping) -> list[str]:
    """Every missing or unsafe setting, as sentences naming the variable."""
    found: list[str] = []
    blueprints = set(settings["ENABLED_BLUEPRINTS"])
    unknown = blueprints - {"web", "api"}
    if unknown or not blueprints:
        found.append(f"ENABLED_BLUEPRINTS must name web and/or api (got {sorted(blueprints)})")
    if "web" in blueprints and not settings.get("ENTRA_CLIENT_ID"):
        found.append("ENTRA_CLIENT_ID is required for the web tier")
    if "api" in blueprints and not (settings.get("API_CLIENT_ID") and settings.get("API_AUDIENCE")):
        found.append("API_CLIENT_ID and API_AUDIENCE are required for the API tier")
    tenant = str(settings.get("ENTRA_TENANT_ID") or "").lower()
    if not tenant:
        found.append("ENTRA_TENANT_ID is required (a tenant id, or organizations with ENTRA_ALLOWED_TENANTS)")
    elif tenant in ("organizations", "common") and not settings.get("ENTRA_ALLOWED_TENANTS"):
        found.append(f"ENTRA_TENANT_ID={tenant} needs ENTRA_ALLOWED_TENANTS (the tenant ids allowed to sign in)")
    elif tenant == "consumers":
        found.append("ENTRA_TENANT_ID=consumers is not supported: this is a work-account app")
    ca_bundle = settings.get("ENTRA_CA_BUNDLE")
    if ca_bundle and not Path(ca_bundle).is_file():
        hint = " (start the local stack with ./run, or `python -m entra_emulator`, to create it)" if (
            Path(ca_bundle).parent == EMULATOR_STATE) else ""
        found.append(f"ENTRA_CA_BUNDLE names a file that does not exist: {ca_bundle}{hint}")
    if not str(settings.get("ENTRA_AUTHORITY_HOST", "")).startswith("https://"):
        found.append("ENTRA_AUTHORITY_HOST must be an https:// URL")
    if settings["APP_ENV"] == "production":
        secret = settings.get("SECRET_KEY") or ""
        if len(secret) < 32:
            found.append("SECRET_KEY is required in production (at least 32 random characters)")
        if not settings.get("REDIS_URL"):
            found.append("REDIS_URL is required in production (the embedded Redis is for development)")
        if not settings.get("TOKEN_CACHE_KEYS"):
            found.append("TOKEN_CACHE_KEYS is required in production (url-safe base64 32-byte keys)")
        if settings.get("DEBUG"):
            found.append("DEBUG must be off in production")
        if not settings.get("SESSION_COOKIE_SECURE"):
            found.append("the session cookie must be Secure in production")
    return found


def check(settings: Mapping) -> None:
    found = problems(settings)
    if found:
        raise ConfigError(
            f"Refusing to start ({settings['APP_ENV']}): " + "; ".join(found) + "."
        )
