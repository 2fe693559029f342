"""The API tier (resource server): every request carries a validated bearer token.

Delegated callers need a scope (``scp``); app-only callers need an app role.
Which orders a list holds is said by the request, not guessed from the caller:
``GET /api/orders`` is the caller's own (``?view=own``, the default for a user),
``?view=tenant`` the whole tenant's, allowed to ``Orders.Admin`` users and to
app-only callers with ``Orders.Read.All``. An app-only caller owns no orders,
so its default is ``tenant`` (the one set its role grants; the daemon's call
stays as it was). Nothing crosses tenants.
"""

from __future__ import annotations

import json

import redis
from flask import Blueprint, abort, g, jsonify, request

from entra_auth.authorization import is_app_only, roles_of
from entra_auth.flask_ext import entra_state
from entra_auth.flask_groups import caller_roles
from entra_auth.errors import DownstreamUnavailable, InteractionRequired
from entra_auth.flask_protect import (
    current_assertion,
    current_token,
    register_error_handlers,
    require_scope,
    require_scope_or_app_role,
)
from orders_store import OrderStore, OrderValidationError, validate_new_order

bp = Blueprint("api", __name__, url_prefix="/api")
register_error_handlers(bp)

MAX_BODY_BYTES = 8 * 1024


def _store() -> OrderStore:
    return OrderStore(entra_state().redis)


# The sets a list of orders can be asked for (``?view=``).
OWN, TENANT = "own", "tenant"


def _sees_whole_tenant() -> bool:
    claims = current_token.claims
    if is_app_only(claims):
        return "Orders.Read.All" in roles_of(claims)
    if "Orders.Admin" in roles_of(claims):
        return True  # the app role itself: never waits on Graph
    # Or a group GROUP_ROLES maps to it (Graph asked on a groups overage).
    return "Orders.Admin" in caller_roles(current_token, current_assertion()).all


def _api_error(status: int, error: str, message: str):
    return jsonify({"error": error, "message": message, "request_id": g.get("request_id")}), status


def _requested_view() -> str:
    """``own`` or ``tenant`` as asked; the default depends only on the kind of caller (user or app)."""
    default = TENANT if is_app_only(current_token.claims) else OWN
    return request.args.get("view", default)


@bp.errorhandler(redis.RedisError)
def _redis_down(exc: redis.RedisError):
    response = jsonify({"error": "temporarily_unavailable", "message": "Storage is unavailable; try again shortly.",
                        "request_id": g.get("request_id")})
    response.headers["Retry-After"] = "5"
    return response, 503


def _json_body(limit: int) -> object:
    """The parsed JSON body, or None when it is not JSON; 413 past ``limit`` bytes.

    Read by hand: werkzeug's ``get_data`` silently truncates a chunked body at
    ``max_content_length`` instead of refusing it.
    """
    if request.content_length is not None and request.content_length > limit:
        abort(413, f"The body may be at most {limit} bytes.")
    data = bytearray()
    while len(data) <= limit:
        chunk = request.stream.read(limit + 1 - len(data))
        if not chunk:
            break
        data += chunk
    if len(data) > limit:
        abort(413, f"The body may be at most {limit} bytes.")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


@bp.get("/orders")
@require_scope_or_app_role("Orders.Read", "Orders.Read.All")
def list_orders():
    view = _requested_view()
    tid = current_token.tid
    if view == OWN:
        if is_app_only(current_token.claims):
            return _api_error(400, "invalid_request", "An app-only caller owns no orders: ask for view=tenant.")
        orders = _store().list_for_owner(tid, current_token.oid)
    elif view == TENANT:
        if not _sees_whole_tenant():
            return _api_error(403, "forbidden", "view=tenant needs the Orders.Admin role (users) "
                                                "or the Orders.Read.All app role (applications).")
        orders = _store().list_for_tenant(tid)
    else:
        return _api_error(400, "invalid_request", "view must be own or tenant.")
    # "scope" is the earlier name of "view", kept for existing clients.
    return jsonify({"orders": [o.to_json() for o in orders], "view": view, "scope": view})


@bp.get("/orders/<order_id>")
@require_scope_or_app_role("Orders.Read", "Orders.Read.All")
def get_order(order_id: str):
    order = _store().get(current_token.tid, order_id)
    # Someone else's order is "not found", not "forbidden": no existence leak. One's own order needs no
    # role, so it is read without asking Graph (a groups overage), and a Graph outage cannot hide it.
    if order is None or (order.owner_oid != current_token.oid and not _sees_whole_tenant()):
        abort(404, "No such order.")
    return jsonify(order.to_json())


@bp.post("/orders")
@require_scope("Orders.Write")
def create_order():
    if not request.is_json:
        return jsonify({"error": "invalid_request", "errors": {"body": "send application/json"},
                        "request_id": g.get("request_id")}), 415
    body = _json_body(MAX_BODY_BYTES)
    try:
        fields = validate_new_order(body)
    except OrderValidationError as exc:
        return jsonify({"error": "invalid_request", "errors": exc.errors, "request_id": g.get("request_id")}), 400
    claims = current_token.claims
    order = _store().create(
        tid=current_token.tid, owner_oid=current_token.oid, owner_name=str(claims.get("name", ""))[:100], **fields
    )
    return jsonify(order.to_json()), 201


# The downstream profile fields the API passes on (nothing else of what the downstream sends).
PROFILE_FIELDS = ("id", "displayName", "givenName", "surname", "userPrincipalName", "mail", "jobTitle",
                  "officeLocation")


@bp.get("/me")
@require_scope("Orders.Read")
def me():
    """The caller's downstream profile, fetched on their behalf (OAuth 2.0 on-behalf-of)."""
    api = entra_state().api
    obo = api.obo[current_token.tid]
    assertion = current_assertion()
    token = obo.token_for(current_token, assertion, api.downstream_scopes)
    try:
        response = api.downstream.call("GET", "me", token, scopes=api.downstream_scopes)
    except InteractionRequired:
        obo.forget(assertion)  # the downstream refused it: never present it again
        raise
    if response.status_code != 200:
        raise DownstreamUnavailable(f"the downstream API answered {response.status_code}")
    try:
        profile = response.json()
    except ValueError:
        raise DownstreamUnavailable("the downstream API answered something that is not JSON") from None
    return jsonify({k: profile[k] for k in PROFILE_FIELDS if k in profile})
