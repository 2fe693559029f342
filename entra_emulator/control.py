"""The test-control surface: things a real tenant cannot be told to do on demand.

Revoke a user's sessions (continuous access evaluation), rotate signing keys,
add or remove a group membership,
make an endpoint slow or fail for a while, make the next token faulty, change
a user's roles, make refresh tokens single-use (a strict mode, not Entra's
default), and read the log of requests served. It exists only in the
emulator; the app never calls it.
"""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify, request

from .core import Emulator
from .manifest import GROUP_MEMBERSHIP_CLAIMS
from .state import (
    ENDPOINTS,
    FAULT_BODIES,
    FAULT_GRANTS,
    NON_JSON_FAULT_ENDPOINTS,
    REFRESH_IDENTITY_FAULTS,
    TOKEN_FAULTS,
    EndpointFault,
    TokenFault,
)

bp = Blueprint("emulator_control", __name__, url_prefix="/_emulator")


def _emu() -> Emulator:
    return current_app.extensions["entra_emulator"]


def _bad(message: str):
    return jsonify({"error": message}), 400


def _body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@bp.get("/info")
def info():
    emu = _emu()
    m = emu.manifest
    return jsonify(
        {
            "authority_host": emu.authority_host,
            "ca_certificate": str(emu.ca.cert_path),
            "identity_endpoint": f"{emu.authority_host}/msi/token",
            "identity_header": emu.identity_header,
            "tenants": [{"key": t.key, "id": t.id, "domain": t.domain} for t in m.tenants],
            "users": [{"username": u.username, "oid": u.oid, "tenant": u.tenant, "roles": u.roles} for u in m.users],
            "registrations": [
                {
                    "key": r.key,
                    "client_id": r.client_id,
                    "identifier_uris": r.identifier_uris,
                    "access_token_version": emu.issuer.token_version(r),
                    "redirect_uris": r.redirect_uris,
                    "certificates": {n: str(emu.certificates[n].path) for n in r.certificate_names()},
                }
                for r in m.registrations
            ],
            "managed_identities": [{"key": mi.key, "client_id": mi.client_id, "principal_id": mi.principal_id}
                                   for mi in m.managed_identities],
            "signing_keys": {"active": emu.keys.active.kid, "next": emu.keys.next.kid,
                             "retired": [k.kid for k in emu.keys.retired]},
        }
    )


@bp.get("/requests")
def requests_log():
    since = request.args.get("since", "0")
    if not since.isdigit():
        return _bad("since must be a number")
    return jsonify({"requests": _emu().state.entries(int(since))})


@bp.delete("/requests")
def clear_requests():
    emu = _emu()
    with emu.state.lock:
        emu.state.log.clear()
    return "", 204


@bp.post("/reset")
def reset():
    _emu().state.reset()
    return "", 204


@bp.post("/users/<user_id>/revoke")
def revoke(user_id: str):
    emu = _emu()
    user = emu.manifest.user(user_id)
    if user is None:
        return jsonify({"error": "unknown user"}), 404
    revoked_at = emu.state.revoke_user(user.oid)
    return jsonify({"user": user.username, "revoked_at": revoked_at})


@bp.put("/users/<user_id>/roles")
def set_roles(user_id: str):
    emu = _emu()
    user = emu.manifest.user(user_id)
    if user is None:
        return jsonify({"error": "unknown user"}), 404
    roles = _body().get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        return _bad("roles must be a list of strings")
    with emu.state.lock:
        emu.state.role_overrides[user.oid] = roles
    return jsonify({"user": user.username, "roles": roles})


@bp.post("/keys/rotate")
def rotate_keys():
    """Promote the pre-published key, or with ``{"emergency": true}`` sign with a never-published one."""
    emu = _emu()
    active = emu.keys.rotate(emergency=bool(_body().get("emergency")))
    return jsonify({"active": active.kid, "published": [k.kid for k in emu.keys.published()]})


@bp.post("/keys/retire")
def retire_keys():
    return jsonify({"retired": _emu().keys.retire()})


@bp.post("/faults")
def add_fault():
    body = _body()
    endpoint = body.get("endpoint")
    if endpoint not in ENDPOINTS | {"*"}:
        return _bad(f"endpoint must be one of {sorted(ENDPOINTS)} or '*'")
    mode = body.get("mode", "fail")
    if mode not in ("fail", "slow"):
        return _bad("mode must be 'fail' or 'slow'")
    shape = body.get("body", "entra")
    if shape not in FAULT_BODIES:
        return _bad(f"body must be one of {sorted(FAULT_BODIES)}")
    if shape != "entra" and (mode != "fail" or endpoint not in NON_JSON_FAULT_ENDPOINTS):
        return _bad(f"a '{shape}' body is a 'fail' fault of {sorted(NON_JSON_FAULT_ENDPOINTS)}")
    if shape == "graph" and endpoint != "graph":
        return _bad("a 'graph' body (Graph's error object) is a fault of the graph endpoint")
    try:
        status = int(body.get("status", 503))
        delay = float(body.get("delay", 0 if mode == "fail" else 2.0))
        seconds = float(body["seconds"]) if "seconds" in body else None
        count = int(body["count"]) if "count" in body else None
        retry_after = int(body["retry_after"]) if "retry_after" in body else None
    except (TypeError, ValueError):
        return _bad("status, delay, seconds, count and retry_after must be numbers")
    # Entra's own errors are 4xx/5xx; a page that is not Entra's can come with any status, 200 included.
    lowest = 400 if shape == "entra" else 200
    if not lowest <= status <= 599 or not 0 <= delay <= 60 or (retry_after is not None and retry_after < 0):
        return _bad(f"status must be {lowest}-599, delay at most 60 s, retry_after not negative")
    fault = EndpointFault(
        mode=mode, status=status, delay=delay, until=time.time() + seconds if seconds else None, remaining=count,
        body=shape, retry_after=retry_after,
    )
    emu = _emu()
    with emu.state.lock:
        emu.state.endpoint_faults[endpoint] = fault
    return jsonify({"endpoint": endpoint, "mode": mode, "status": status, "delay": delay,
                    "seconds": seconds, "count": count, "body": shape, "retry_after": retry_after}), 201


@bp.delete("/faults")
def clear_faults():
    emu = _emu()
    with emu.state.lock:
        emu.state.endpoint_faults.clear()
    return "", 204


@bp.post("/token-faults")
def add_token_fault():
    body = _body()
    kind = body.get("fault")
    if kind not in TOKEN_FAULTS | REFRESH_IDENTITY_FAULTS:
        return _bad(f"fault must be one of {sorted(TOKEN_FAULTS | REFRESH_IDENTITY_FAULTS)}")
    token_type = body.get("token_type", "any")
    if token_type not in ("any", "id_token", "access_token"):
        return _bad("token_type must be any, id_token or access_token")
    # "grant": only the answer of that grant carries the fault (e.g. a refresh's ID token, not a sign-in's).
    grant = body.get("grant", "refresh_token" if kind in REFRESH_IDENTITY_FAULTS else "any")
    if grant not in FAULT_GRANTS:
        return _bad(f"grant must be one of {sorted(FAULT_GRANTS)}")
    if kind in REFRESH_IDENTITY_FAULTS and (grant != "refresh_token" or token_type == "access_token"):
        return _bad(f"{kind} is a fault of the refresh_token grant, for token_type any or id_token")
    emu = _emu()
    with emu.state.lock:
        emu.state.token_faults.append(TokenFault(kind, token_type, body.get("client_id"), grant))
    return jsonify({"fault": kind, "token_type": token_type, "client_id": body.get("client_id"), "grant": grant}), 201


@bp.post("/settings")
def settings():
    """Pin token lifetimes; ``{"access_token_lifetime": null}`` restores Entra's random 60-90 minutes."""
    emu = _emu()
    body = _body()
    single_use = body.get("single_use_refresh_tokens", emu.state.single_use_refresh_tokens)
    if not isinstance(single_use, bool):
        return _bad("single_use_refresh_tokens must be true or false")
    # Not Entra's default (Entra keeps a used refresh token valid): a strict-rotation test mode.
    emu.state.single_use_refresh_tokens = single_use
    # group_claim_limit: how many group ids a token carries before the overage marker replaces them
    # (Entra: 200 in a JWT); null restores 200. group_overage_endpoint: the marker's URL template.
    if "group_claim_limit" in body:
        limit = body["group_claim_limit"]
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= 1000):
            return _bad("group_claim_limit must be an integer 0..1000 or null")
        emu.state.settings["group_claim_limit"] = limit
    if "group_overage_endpoint" in body:
        endpoint = body["group_overage_endpoint"]
        if endpoint is not None and (not isinstance(endpoint, str) or not endpoint.startswith("https://")):
            return _bad("group_overage_endpoint must be an https URL template ({tid}, {oid}) or null")
        emu.state.group_overage_endpoint = endpoint
    for key in ("access_token_lifetime", "id_token_lifetime"):
        if key in body:
            value = body[key]
            if value is None and key == "access_token_lifetime":
                emu.state.settings[key] = None
                continue
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 86400:
                return _bad(f"{key} must be an integer number of seconds (1..86400)")
            emu.state.settings[key] = value
    return jsonify({**emu.state.settings, "single_use_refresh_tokens": emu.state.single_use_refresh_tokens,
                    "group_overage_endpoint": emu.state.group_overage_endpoint})


@bp.post("/registrations/<key>")
def update_registration(key: str):
    """Switch a registration's access-token version at runtime (``{"access_token_version": 1}``),
    as an admin would edit ``accessTokenAcceptedVersion``; the state reset restores the manifest's."""
    emu = _emu()
    registration = emu.manifest.registration(key)
    if registration is None:
        return jsonify({"error": "unknown registration"}), 404
    body = _body()
    if not {"access_token_version", "optional_claims"} & body.keys():
        return _bad("give access_token_version and/or optional_claims")
    version = body.get("access_token_version", emu.issuer.token_version(registration))
    if version not in (1, 2) or isinstance(version, bool):
        return _bad("access_token_version must be 1 or 2")
    # The access token's optional claims the registration requests (e.g. ["idtyp"]), as an admin edits
    # optionalClaims.accessToken; idtyp is not sent unless requested.
    optional = body.get("optional_claims", emu.issuer.optional_claims(registration))
    if not isinstance(optional, list) or not all(isinstance(c, str) for c in optional):
        return _bad("optional_claims must be a list of claim names")
    with emu.state.lock:
        emu.state.token_versions[registration.key] = version
        emu.state.optional_claims[registration.key] = list(optional)
    return jsonify({"key": registration.key, "client_id": registration.client_id, "access_token_version": version,
                    "optional_claims": optional})


@bp.post("/registrations/<key>/group-membership-claims")
def set_group_membership_claims(key: str):
    """Set a registration's groupMembershipClaims (``{"value": "All"}``), as an admin edits the
    manifest: None, SecurityGroup, All, ApplicationGroup or DirectoryRole; the reset restores it."""
    emu = _emu()
    registration = emu.manifest.registration(key)
    if registration is None:
        return jsonify({"error": "unknown registration"}), 404
    value = _body().get("value")
    if not isinstance(value, str) or value.lower() not in {v.lower() for v in GROUP_MEMBERSHIP_CLAIMS}:
        return _bad(f"value must be one of {list(GROUP_MEMBERSHIP_CLAIMS)}")
    with emu.state.lock:
        emu.state.group_membership_claims[registration.key] = value
    return jsonify({"key": registration.key, "client_id": registration.client_id, "group_membership_claims": value})


@bp.get("/groups")
def list_groups():
    """The tenant's groups with their direct members now (runtime changes applied)."""
    emu = _emu()
    directory = emu.issuer.groups
    return jsonify({"groups": [
        {"key": grp.key, "id": grp.id, "display_name": grp.display_name, "tenant": grp.tenant,
         "security_enabled": grp.security_enabled, "assigned_to": list(grp.assigned_to), "app_group_roles": list(grp.app_group_roles),
         "members": sorted(directory.members(grp))}
        for grp in emu.manifest.groups
    ]})


@bp.post("/groups/<group_ref>/members")
def change_membership(group_ref: str):
    """Add or remove a member: ``{"user": "<username|oid>"}`` or ``{"group": "<key|id|name>"}``, with
    ``"remove": true`` to take it out. Takes effect in the next token and the next Graph call."""
    emu = _emu()
    group = emu.manifest.group(group_ref)
    if group is None:
        return jsonify({"error": "unknown group"}), 404
    body = _body()
    remove = body.get("remove", False)
    if not isinstance(remove, bool) or ("user" in body) == ("group" in body):
        return _bad('give one of "user" or "group", and "remove" as true or false')
    if "user" in body:
        user = emu.manifest.user(str(body["user"]))
        member_id, tenant = (user.oid, user.tenant) if user else (None, None)
    else:
        nested = emu.manifest.group(str(body["group"]))
        member_id, tenant = (nested.id, nested.tenant) if nested else (None, None)
        if nested is not None and nested.id == group.id:
            return _bad("a group cannot be a member of itself")
    if member_id is None or tenant != group.tenant:
        return jsonify({"error": "unknown member in the group's tenant"}), 404
    emu.issuer.groups.set_membership(group, member_id, not remove)
    return jsonify({"group": group.id, "member": member_id, "member_of": not remove})
