"""Graph-like membership reads for the signed-in user: ``POST /v1.0/me/getMemberObjects`` and
``GET /v1.0/me/transitiveMemberOf`` (with ``$top`` and ``@odata.nextLink`` paging).

Shapes and permissions follow Microsoft Graph's v1.0 reference (``directoryobject-getmemberobjects``
and ``user-list-transitivememberof`` in microsoftgraph/microsoft-graph-docs-contrib): both are
transitive; both accept ``User.Read`` (the least privileged delegated permission for the user's
own memberships) or a broader directory permission.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from flask import Blueprint, Response, current_app, jsonify, request

from .core import Emulator
from .graph_caller import GraphCaller, graph_caller, graph_error, require_any_scope
from .manifest import Group

bp = Blueprint("graph_groups", __name__, url_prefix="/v1.0/me")

# "Permissions (from least to most privileged)", delegated (work or school account), per API.
GET_MEMBER_OBJECTS_PERMISSIONS = frozenset(
    {"User.Read", "User.Read.All", "Directory.Read.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
)
TRANSITIVE_MEMBER_OF_PERMISSIONS = frozenset(
    {"User.Read", "User.Read.All", "GroupMember.Read.All", "Group.Read.All", "Directory.Read.All",
     "Directory.ReadWrite.All"}
)
# transitiveMemberOf: "The default and maximum page sizes are 100 and 999 objects respectively."
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999
_SKIPTOKEN_KEY = secrets.token_bytes(32)  # skip tokens are opaque and only this process's are honoured


def _emu() -> Emulator:
    return current_app.extensions["entra_emulator"]


def _caller(accepted: frozenset[str]) -> GraphCaller | Response:
    caller = graph_caller(_emu())
    if isinstance(caller, Response):
        return caller
    return require_any_scope(caller, accepted) or caller


@bp.post("/getMemberObjects")
def get_member_objects():
    caller = _caller(GET_MEMBER_OBJECTS_PERMISSIONS)
    if isinstance(caller, Response):
        return caller
    body = request.get_json(silent=True)
    security_only = body.get("securityEnabledOnly") if isinstance(body, dict) else None
    if not isinstance(security_only, bool):
        return graph_error(400, "Request_BadRequest",
                           "The request body must be a JSON object with the Boolean parameter 'securityEnabledOnly'.")
    groups = _emu().issuer.groups.transitive_groups(caller.user.oid)
    # true: "only security groups"; false: "all groups, administrative units, and directory roles"
    # (the emulator has groups only).
    return jsonify({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
        "value": [g.id for g in groups if g.security_enabled or not security_only],
    })


@bp.get("/transitiveMemberOf")
def transitive_member_of():
    caller = _caller(TRANSITIVE_MEMBER_OF_PERMISSIONS)
    if isinstance(caller, Response):
        return caller
    raw_top = request.args.get("$top", str(DEFAULT_PAGE_SIZE))
    if not raw_top.isdigit() or not 1 <= int(raw_top) <= MAX_PAGE_SIZE:
        # The text Graph answers an out-of-range page size with (observed; not in the reference).
        return graph_error(400, "Request_UnsupportedQuery",
                           f"Invalid page size specified: '{raw_top[:20]}'. Must be between 1 and 999 inclusive.")
    top = int(raw_top)
    offset = 0
    if "$skiptoken" in request.args:
        offset = _read_skiptoken(request.args["$skiptoken"], caller.user.oid)
        if offset is None:
            return graph_error(400, "Request_BadRequest", "The $skiptoken is not valid.")
    groups = _emu().issuer.groups.transitive_groups(caller.user.oid)
    page = groups[offset:offset + top]
    answer: dict = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects"}
    if offset + top < len(groups):
        # Graph's nextLink is absolute and keeps the page size; here it names the emulator's host.
        answer["@odata.nextLink"] = (f"{_emu().authority_host}/v1.0/me/transitiveMemberOf?$top={top}"
                                     f"&$skiptoken={_skiptoken(offset + top, caller.user.oid)}")
    answer["value"] = [_directory_object(g) for g in page]
    return jsonify(answer)


def _directory_object(group: Group) -> dict:
    """A group as Graph lists it in a directoryObject collection (the common properties)."""
    unified = group.mail_enabled and not group.security_enabled  # a Microsoft 365 group
    nickname = "".join(c for c in group.display_name if c.isalnum())
    return {
        "@odata.type": "#microsoft.graph.group",
        "id": group.id,
        "deletedDateTime": None,
        "description": None,
        "displayName": group.display_name,
        "groupTypes": ["Unified"] if unified else [],
        "mail": f"{nickname}@contoso.example" if group.mail_enabled else None,
        "mailEnabled": group.mail_enabled,
        "mailNickname": nickname,
        "securityEnabled": group.security_enabled,
    }


def _skiptoken(offset: int, oid: str) -> str:
    payload = json.dumps({"o": offset, "u": oid}, separators=(",", ":")).encode()
    mac = hmac.new(_SKIPTOKEN_KEY, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac + payload).decode().rstrip("=")


def _read_skiptoken(token: str, oid: str) -> int | None:
    """The offset a skip token of this user carries; None for anything else (tampered, another user's)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        mac, payload = raw[:16], raw[16:]
        if not hmac.compare_digest(mac, hmac.new(_SKIPTOKEN_KEY, payload, hashlib.sha256).digest()[:16]):
            return None
        data = json.loads(payload)
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("u") != oid or not isinstance(data.get("o"), int) or data["o"] < 0:
        return None
    return data["o"]
