"""Who calls the Graph-like ``/v1.0/me...`` endpoints: the bearer token checked as Graph checks
it, and Graph's error answers (``{"error": {"code", "message", "innerError"}}``, Microsoft Graph
"Error responses and resource types")."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timezone

import jwt
from flask import Response, g, jsonify, request

from .core import Emulator
from .manifest import User
from .tokens import verify_own_token


@dataclass(frozen=True)
class GraphCaller:
    user: User
    claims: dict

    @property
    def scopes(self) -> set[str]:
        return set(str(self.claims.get("scp", "")).split())


def graph_error(status: int, code: str, message: str) -> Response:
    """Graph's error object; ``innerError`` carries the date and request ids as Graph's does."""
    response = jsonify({"error": {"code": code, "message": message, "innerError": {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": g.get("request_id"),
        "client-request-id": g.get("client_request_id") or g.get("request_id"),
    }}})
    response.status_code = status
    return response


def graph_caller(emu: Emulator) -> GraphCaller | Response:
    """The signed-in user a delegated Graph token names, or the answer Graph gives instead
    (401 with a Bearer challenge, a CAE claims challenge, 403 for an app-only token, 404)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    graph = emu.manifest.registration("graph")
    assert graph is not None

    def unauthorized(message: str, extra: str = "") -> Response:
        response = graph_error(401, "InvalidAuthenticationToken", message)
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="", authorization_uri="{emu.authority_host}/common/oauth2/authorize", '
            f'client_id="{graph.client_id}"{extra}'
        )
        return response

    if scheme.lower() != "bearer" or not token:
        return unauthorized("Access token is empty.")
    try:
        # Graph's tokens verify only over the hashed header nonce: Graph knows that, nobody else does.
        claims = verify_own_token(emu.issuer, token.strip(), audience=[graph.client_id, *graph.identifier_uris],
                                  graph=True)
    except (jwt.InvalidTokenError, ValueError) as exc:
        return unauthorized(f"Access token validation failure ({type(exc).__name__}).")
    g.bearer = {k: claims.get(k) for k in ("aud", "oid", "tid", "azp", "appid", "scp", "uti", "idtyp", "ver")
                if k in claims}
    g.bearer["grant"] = emu.state.issued_by_uti.get(claims.get("uti", ""), {}).get("grant")
    if claims.get("idtyp") == "app" or "scp" not in claims:
        return graph_error(403, "Authorization_RequestDenied", "/me needs a delegated token.")
    user = emu.manifest.user(str(claims.get("oid")))
    if user is None:
        return graph_error(404, "Request_ResourceNotFound", "The user does not exist.")
    if emu.state.is_revoked(user.oid, claims["iat"]):
        # Continuous access evaluation: Graph answers a claims challenge, not a plain 401.
        challenge = json.dumps({"access_token": {"nbf": {"essential": True, "value": str(emu.state.revoked_at[user.oid])}}})
        encoded = base64.b64encode(challenge.encode()).decode()
        return unauthorized(
            "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: "
            "TokenIssuedBeforeRevocationTimestamp",
            f', error="insufficient_claims", claims="{encoded}"',
        )
    return GraphCaller(user=user, claims=claims)


def require_any_scope(caller: GraphCaller, accepted: frozenset[str]) -> Response | None:
    """403 Authorization_RequestDenied unless the token carries one of the permissions Graph accepts."""
    if caller.scopes & accepted:
        return None
    return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
