"""The Flask adapter of the identity core: per-app state in ``app.extensions``."""

from __future__ import annotations

from dataclasses import dataclass

import redis
import requests
from flask import Flask, current_app

from .http import build_http_session
from .jwks import JwksCache
from .jwt_validation import TokenValidator, policy_from_settings
from .metadata import OidcMetadata
from .redis_client import connect

EXTENSION_KEY = "entra_auth"


@dataclass
class EntraState:
    """What one app instance shares across requests (never across apps)."""

    http: requests.Session
    redis: redis.Redis
    metadata: OidcMetadata
    jwks: JwksCache
    validator: TokenValidator  # bearer tokens for the API tier
    allowed_client_apps: frozenset[str] | None = None


def init_app(app: Flask, redis_url: str) -> EntraState:
    if EXTENSION_KEY in app.extensions:
        raise RuntimeError("entra_auth is already initialised on this app")
    cfg = app.config
    timeout = float(cfg["HTTP_TIMEOUT_SECONDS"])
    http = build_http_session(cfg.get("ENTRA_CA_BUNDLE"), timeout=(min(3.05, timeout), timeout))
    metadata = OidcMetadata(f"{cfg['ENTRA_AUTHORITY_HOST']}/{cfg['ENTRA_TENANT_ID']}", http)
    jwks = JwksCache(lambda: metadata.get()["jwks_uri"], http)
    state = EntraState(
        http=http,
        redis=connect(redis_url, timeout=float(cfg["REDIS_TIMEOUT_SECONDS"])),
        metadata=metadata,
        jwks=jwks,
        validator=TokenValidator(
            policy_from_settings(cfg["ENTRA_AUTHORITY_HOST"], cfg.get("API_AUDIENCE") or [], allowed_tenants(cfg)),
            jwks,
        ),
        allowed_client_apps=frozenset(cfg["API_ALLOWED_CLIENT_APPS"]) if cfg.get("API_ALLOWED_CLIENT_APPS") else None,
    )
    app.extensions[EXTENSION_KEY] = state
    return state


def allowed_tenants(cfg) -> list[str]:
    """ENTRA_ALLOWED_TENANTS, or the one configured tenant when it is a specific one."""
    if cfg.get("ENTRA_ALLOWED_TENANTS"):
        return list(cfg["ENTRA_ALLOWED_TENANTS"])
    tenant = cfg["ENTRA_TENANT_ID"]
    return [] if tenant.lower() in ("organizations", "common") else [tenant]


def entra_state() -> EntraState:
    return current_app.extensions[EXTENSION_KEY]
