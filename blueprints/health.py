"""Platform probes: liveness and readiness."""

from __future__ import annotations

import redis
from flask import Blueprint, jsonify

from entra_auth import redis_client
from entra_auth.flask_ext import entra_state
from entra_auth.metadata import MetadataUnavailable

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness: 200 while the process can answer at all."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Readiness: Redis answers (every primary of a cluster) and the identity provider's metadata is loaded."""
    state = entra_state()
    failing: list[str] = []
    try:
        redis_client.ping(state.redis)
    except redis.RedisError:
        failing.append("redis")
    try:
        state.metadata.get()
    except MetadataUnavailable:
        failing.append("identity provider")
    if failing:
        return jsonify({"status": "unavailable", "failing": failing}), 503
    return jsonify({"status": "ready"})
