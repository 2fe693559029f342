"""The Flask adapter of the identity core: per-app state in ``app.extensions``."""

from __future__ import annotations

from dataclasses import dataclass

import redis
import requests
from flask import Flask, current_app

from .http import build_http_session
from .metadata import OidcMetadata
from .redis_client import connect

EXTENSION_KEY = "entra_auth"


@dataclass
class EntraState:
    """What one app instance shares across requests (never across apps)."""

    http: requests.Session
    redis: redis.Redis
    metadata: OidcMetadata


def init_app(app: Flask, redis_url: str) -> EntraState:
    if EXTENSION_KEY in app.extensions:
        raise RuntimeError("entra_auth is already initialised on this app")
    cfg = app.config
    timeout = float(cfg["HTTP_TIMEOUT_SECONDS"])
    http = build_http_session(cfg.get("ENTRA_CA_BUNDLE"), timeout=(min(3.05, timeout), timeout))
    state = EntraState(
        http=http,
        redis=connect(redis_url, timeout=float(cfg["REDIS_TIMEOUT_SECONDS"])),
        metadata=OidcMetadata(f"{cfg['ENTRA_AUTHORITY_HOST']}/{cfg['ENTRA_TENANT_ID']}", http),
    )
    app.extensions[EXTENSION_KEY] = state
    return state


def entra_state() -> EntraState:
    return current_app.extensions[EXTENSION_KEY]
