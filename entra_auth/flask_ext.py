"""The Flask adapter of the identity core: per-app state in ``app.extensions``.

``init_app`` builds what one app instance shares across requests (never across
apps): the HTTP client, Redis, metadata and key caches, the bearer-token
validator of the API tier, and for the web tier the MSAL app factory, the
encrypted token-cache store, the sign-in flow store and the session interface.
Nothing here talks to the network or Redis at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis
import requests
from flask import Flask, current_app

from .authorities import Authority, IssuerRule
from .credential_refusals import RefusalRecord
from .credentials import ClientCredential, parse_client_credentials
from .flask_sessions import EntraSessionInterface
from .group_cache import MembershipCache
from .group_membership import GraphGroups
from .group_roles import GroupRoles, parse_group_roles
from .http import build_http_session
from .id_tokens import IdTokenValidator
from .jwks import JwksCache
from .jwt_validation import TokenValidator, ValidationPolicy, policy_from_settings
from .metadata import OidcMetadata
from .msal_apps import MsalAppFactory
from .obo import OnBehalfOf
from .protected_api import ProtectedApi
from .redis_client import connect
from .sealed_records import RecordSealer
from .signin_flows import SignInFlowStore
from .token_acquisition import UserTokens
from .token_cache import RedisTokenCacheStore, TokenCacheCipher
from .wsgi_transport import IN_PROCESS_BASE_URL, in_process_client

EXTENSION_KEY = "entra_auth"


@dataclass
class WebState:
    """The web tier's part: sign-in, sessions and the users' token caches."""

    msal_apps: MsalAppFactory
    token_caches: RedisTokenCacheStore
    user_tokens: UserTokens
    flows: SignInFlowStore
    sessions: EntraSessionInterface
    orders_api: ProtectedApi  # the API tier, called with the user's token


@dataclass
class ApiState:
    """The API tier's part: on-behalf-of exchanges and the downstream API."""

    obo: dict[str, OnBehalfOf]  # per tenant
    credential: ClientCredential  # the API's own, for on-behalf-of
    downstream: ProtectedApi
    downstream_scopes: list[str]
    memberships: MembershipCache  # groups resolved through Graph, per caller and token


@dataclass
class EntraState:
    """What one app instance shares across requests (never across apps)."""

    http: requests.Session
    redis: redis.Redis
    metadata: OidcMetadata
    jwks: JwksCache
    validator: TokenValidator  # bearer tokens for the API tier
    cipher: TokenCacheCipher
    record_keys: list[str]  # TOKEN_CACHE_KEYS: also seal sessions and sign-in flows (sealed_records.py)
    issuers: IssuerRule | None = None  # the v2.0 issuer of the authority's discovery, checked against its kind
    allowed_client_apps: frozenset[str] | None = None
    group_roles: GroupRoles = field(default_factory=dict)  # GROUP_ROLES: group object id -> this app's roles
    graph_groups: GraphGroups | None = None  # where a groups overage is resolved (GRAPH_API_BASE_URL)
    web: WebState | None = None
    api: ApiState | None = None


def init_app(app: Flask, redis_url: str, token_cache_keys: list[str]) -> EntraState:
    if EXTENSION_KEY in app.extensions:
        raise RuntimeError("entra_auth is already initialised on this app")
    cfg = app.config
    timeout = float(cfg["HTTP_TIMEOUT_SECONDS"])
    http = build_http_session(cfg.get("ENTRA_CA_BUNDLE"), timeout=(min(3.05, timeout), timeout))
    configured = authority(cfg)
    metadata = OidcMetadata(configured.url, http, discovery_url=configured.discovery_url)
    # Keys and issuers both come from this authority's discovery: External ID's are not workforce's.
    jwks = JwksCache(lambda: metadata.get()["jwks_uri"], http)
    issuers = IssuerRule(configured, allowed_tenants(cfg), metadata.get)
    client = connect(redis_url, timeout=float(cfg["REDIS_TIMEOUT_SECONDS"]))
    state = EntraState(
        http=http,
        redis=client,
        metadata=metadata,
        jwks=jwks,
        validator=TokenValidator(
            api_validation_policy(cfg, issuers),
            jwks,
        ),
        cipher=TokenCacheCipher(token_cache_keys),
        record_keys=list(token_cache_keys),
        issuers=issuers,
        allowed_client_apps=frozenset(cfg["API_ALLOWED_CLIENT_APPS"]) if cfg.get("API_ALLOWED_CLIENT_APPS") else None,
        group_roles=parse_group_roles(cfg.get("GROUP_ROLES")),
        graph_groups=GraphGroups(cfg["GRAPH_API_BASE_URL"], http),
    )
    if "web" in cfg["ENABLED_BLUEPRINTS"]:
        state.web = _init_web(app, state)
    if "api" in cfg["ENABLED_BLUEPRINTS"]:
        state.api = _init_api(app, state)
    app.extensions[EXTENSION_KEY] = state
    return state


def _init_web(app: Flask, state: EntraState) -> WebState:
    cfg = app.config
    credential = ClientCredential(parse_client_credentials("ENTRA_CLIENT", cfg), http_client=state.http,
                                  on_refused=RefusalRecord(state.redis, cfg["ENTRA_CLIENT_ID"]))
    apps = MsalAppFactory(cfg["ENTRA_CLIENT_ID"], authority(cfg), credential, state.http, metadata=state.metadata)
    caches = RedisTokenCacheStore(state.redis, state.cipher, prefix="tokencache:user",
                                  retention_seconds=int(cfg["SESSION_ABSOLUTE_TIMEOUT_SECONDS"]))
    id_tokens = IdTokenValidator(
        client_id=cfg["ENTRA_CLIENT_ID"],
        authority_host=cfg["ENTRA_AUTHORITY_HOST"],
        allowed_tenants=allowed_tenants(cfg),
        issuers=state.issuers,
        keys=state.jwks,
    )
    sessions = EntraSessionInterface(
        app,
        state.redis,
        RecordSealer(state.record_keys, "session"),
        idle_timeout=int(cfg["SESSION_IDLE_TIMEOUT_SECONDS"]),
        absolute_timeout=int(cfg["SESSION_ABSOLUTE_TIMEOUT_SECONDS"]),
    )
    app.session_interface = sessions
    orders_api = orders_api_client(app, cfg.get("API_BASE_URL"), state.http)
    return WebState(
        msal_apps=apps,
        token_caches=caches,
        user_tokens=UserTokens(apps, caches, id_tokens),
        flows=SignInFlowStore(state.redis, RecordSealer(state.record_keys, "signin")),
        sessions=sessions,
        orders_api=orders_api,
    )


def _init_api(app: Flask, state: EntraState) -> ApiState:
    cfg = app.config
    credential = ClientCredential(parse_client_credentials("API_CLIENT", cfg), http_client=state.http,
                                  on_refused=RefusalRecord(state.redis, cfg["API_CLIENT_ID"]))
    store = RedisTokenCacheStore(state.redis, state.cipher, prefix="tokencache:obo", retention_seconds=0)
    obo = {tid: OnBehalfOf(MsalAppFactory(cfg["API_CLIENT_ID"], authority(cfg).for_tenant(tid), credential,
                                          state.http), store)
           for tid in allowed_tenants(cfg)}
    return ApiState(
        obo=obo,
        credential=credential,
        downstream=ProtectedApi(cfg["DOWNSTREAM_API_BASE_URL"], state.http, name="the downstream API"),
        downstream_scopes=list(cfg["DOWNSTREAM_API_SCOPES"]),
        memberships=MembershipCache(state.redis, RecordSealer(state.record_keys, "groups")),
    )


def orders_api_client(app: Flask, base_url: str | None, http: requests.Session) -> ProtectedApi:
    """The Orders API (mounted under ``/api``) at ``base_url``, or this app itself, in-process."""
    if base_url:
        return ProtectedApi(f"{base_url.rstrip('/')}/api", http, name="the Orders API")
    # "This app": straight into our own WSGI callable, no network hop, no second worker thread.
    return ProtectedApi(f"{IN_PROCESS_BASE_URL}/api", in_process_client(app), name="the Orders API")


def api_validation_policy(cfg, issuers: IssuerRule | None = None) -> ValidationPolicy:
    """The API tier's bearer-token rules: ``API_CLIENT_ID`` always an audience, ``API_AUDIENCE``
    adding App ID URIs for v1.0 tokens, which count only with ``API_ACCEPT_V1_TOKENS``; the v2.0
    issuer from the authority's discovery (``issuers``)."""
    return policy_from_settings(cfg["ENTRA_AUTHORITY_HOST"], cfg.get("API_CLIENT_ID") or "", allowed_tenants(cfg),
                                app_id_uris=cfg.get("API_AUDIENCE") or [],
                                accept_v1=bool(cfg.get("API_ACCEPT_V1_TOKENS")), access_token=True, issuers=issuers)


def authority(cfg) -> Authority:
    """The configured authority and its kind (config.py resolves ENTRA_AUTHORITY from host + tenant if unset)."""
    url = cfg.get("ENTRA_AUTHORITY") or f"{cfg['ENTRA_AUTHORITY_HOST']}/{cfg['ENTRA_TENANT_ID']}"
    return Authority.parse(url, cfg.get("ENTRA_AUTHORITY_KIND") or None)


def allowed_tenants(cfg) -> list[str]:
    """ENTRA_ALLOWED_TENANTS, or the one configured tenant when it is a specific one."""
    if cfg.get("ENTRA_ALLOWED_TENANTS"):
        return list(cfg["ENTRA_ALLOWED_TENANTS"])
    tenant = cfg["ENTRA_TENANT_ID"]
    return [] if tenant.lower() in ("organizations", "common") else [tenant]


def entra_state() -> EntraState:
    return current_app.extensions[EXTENSION_KEY]
