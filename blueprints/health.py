"""Platform probes: liveness and readiness."""

from __future__ import annotations

import logging
import time

import redis
from flask import Blueprint, current_app, jsonify

from entra_auth import redis_client
from entra_auth.credential_refusals import recent_refusals
from entra_auth.errors import UntrustedDiscovery
from entra_auth.flask_ext import entra_state
from entra_auth.metadata import MetadataUnavailable

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    """Liveness: 200 while the process can answer at all."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Readiness: Redis answers (every primary of a cluster) and the identity provider's metadata is loaded,
    naming an issuer of the configured authority's kind (else every token would be refused)."""
    state = entra_state()
    failing: list[str] = []
    try:
        redis_client.ping(state.redis)
    except redis.RedisError:
        failing.append("redis")
    try:
        state.metadata.get()
        if state.issuers is not None:
            state.issuers.check()
    except MetadataUnavailable:
        failing.append("identity provider")
    except UntrustedDiscovery as exc:
        log.error("identity provider misconfigured: %s (%s, kind %s)", exc.reason,
                                 state.issuers.authority.url, state.issuers.authority.kind)
        failing.append("identity provider")
    # Credential detail only once Entra refused a source: a healthy probe answers just its status.
    credentials = _credentials(state) if "redis" not in failing else {}
    detail = {"credentials": credentials} if any(t["refused"] for t in credentials.values()) else {}
    if failing:
        return jsonify({"status": "unavailable", "failing": failing, **detail}), 503
    return jsonify({"status": "ready", **detail})


def _credentials(state) -> dict:
    """Per tier: the credential source this worker uses and those Entra refused lately (any worker's).

    Where each source is configured and its kind, with Entra's error code: no path, thumbprint
    or secret (the log and ``flask entra check`` name the source fully, for the operator).
    A refused source does not make the app unready: the next one is in use.
    """
    cfg = current_app.config
    tiers = {"web": (state.web.msal_apps.credential, cfg["ENTRA_CLIENT_ID"]) if state.web else None,
             "api": (state.api.credential, cfg["API_CLIENT_ID"]) if state.api else None}
    detail = {}
    for tier, found in tiers.items():
        if found is None:
            continue
        credential, client_id = found
        try:
            refused = recent_refusals(state.redis, client_id)
        except redis.RedisError:
            refused = []
        now = time.time()
        detail[tier] = {
            "in_use": credential.status()["in_use"],
            "refused": [{"source": f"{e.get('origin')} ({e.get('kind')})", "reason": e.get("reason"),
                         "retried_in_seconds": int(float(e.get("until", now)) - now)}
                        for e in refused if str(e.get("origin", "")).startswith(_prefix(tier))],
        }
    return detail


def _prefix(tier: str) -> str:
    return {"web": "ENTRA_CLIENT_", "api": "API_CLIENT_"}[tier]
