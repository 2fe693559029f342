"""Entra-shaped protocol errors and scope parsing shared by the endpoints."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from .manifest import Manifest, Registration

RESERVED_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
GRAPH_RESOURCE_KEY = "graph"


class OAuthError(Exception):
    """An error answered the Entra way: ``error`` + ``error_description`` starting with AADSTS."""

    def __init__(
        self,
        error: str,
        code: int,
        description: str,
        *,
        status: int = 400,
        claims: str | None = None,
        suberror: str | None = None,
    ):
        super().__init__(f"AADSTS{code}: {description}")
        self.error = error
        self.code = code
        self.description = description
        self.status = status
        self.claims = claims
        self.suberror = suberror

    def body(self, correlation_id: str | None = None, trace_id: str | None = None) -> dict:
        """The JSON error body; ``trace_id`` is the answer's ``x-ms-request-id``, ``correlation_id``
        the client's ``client-request-id`` (each generated when not given)."""
        trace_id = trace_id or str(uuid.uuid4())
        correlation_id = correlation_id or str(uuid.uuid4())
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        body = {
            "error": self.error,
            # Entra appends trace and correlation ids to every description, one per line
            # (Microsoft's sample error response: reference-error-codes, "Handling error codes").
            "error_description": (
                f"AADSTS{self.code}: {self.description}\r\nTrace ID: {trace_id}\r\n"
                f"Correlation ID: {correlation_id}\r\nTimestamp: {now}"
            ),
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }
        if self.suberror:
            body["suberror"] = self.suberror
        if self.claims:
            body["claims"] = self.claims
        return body


@dataclass
class ScopeRequest:
    """A parsed ``scope`` parameter: reserved OIDC scopes plus one resource's scopes."""

    reserved: set[str] = field(default_factory=set)
    resource: Registration | None = None
    values: list[str] = field(default_factory=list)  # scope values on the resource, without prefix
    prefix: str = ""  # how the client named the resource (echoed back in "scope")
    is_default: bool = False

    def qualified(self, values: set[str] | list[str]) -> list[str]:
        """Scope strings as the client asked for them (``{prefix}/{value}`` or bare)."""
        return [f"{self.prefix}/{v}" if self.prefix else v for v in sorted(values)]


def parse_scopes_by_resource(manifest: Manifest, raw: str | None, *, allow_empty: bool = False) -> list[ScopeRequest]:
    """A ``scope`` parameter as one request per resource it names, in the order named.

    The first request carries the reserved OIDC scopes (and is the only one when no resource is
    named). Several resources are fine where Entra allows them: at ``/authorize``, where the user
    consents to all of them at once (MSAL's "extra scopes to consent"); a token request takes one.
    """
    items = (raw or "").split()
    if not items and not allow_empty:
        raise OAuthError(
            "invalid_request", 90014, "The request body must contain the following parameter: 'scope'."
        )
    reserved: set[str] = set()
    by_resource: dict[str, ScopeRequest] = {}
    for item in items:
        if item in RESERVED_SCOPES:
            reserved.add(item)
            continue
        if "/" in item:
            prefix, _, value = item.rpartition("/")
            resource = manifest.resource_for(prefix)
            if resource is None:
                raise OAuthError(
                    "invalid_resource",
                    500011,
                    f"The resource principal named {prefix} was not found in the tenant. This can happen if "
                    "the application has not been installed by the administrator of the tenant or consented "
                    "to by any user in the tenant.",
                )
        else:
            # Entra's default resource for a bare scope is Microsoft Graph.
            prefix, value = "", item
            resource = manifest.registration(GRAPH_RESOURCE_KEY)
            if resource is None:
                raise OAuthError("invalid_scope", 70011, f"The provided value for scope {item} is not valid.")
        request = by_resource.setdefault(resource.key, ScopeRequest(resource=resource))
        request.prefix = prefix
        if value == ".default":
            request.is_default = True
        elif value not in resource.scope_values():
            raise OAuthError(
                "invalid_scope",
                70011,
                f"The provided request must include a 'scope' input parameter. The provided value for the "
                f"input parameter 'scope' is not valid. The scope {item} is not valid.",
            )
        else:
            request.values.append(value)
    for request in by_resource.values():
        if request.is_default and request.values:
            raise OAuthError(
                "invalid_scope", 70011, "The scope '.default' cannot be combined with other scopes of the same resource."
            )
    requests = list(by_resource.values()) or [ScopeRequest()]
    requests[0].reserved = reserved
    return requests


def parse_scopes(manifest: Manifest, raw: str | None, *, allow_empty: bool = False) -> ScopeRequest:
    """A token request's ``scope``: reserved scopes plus at most one resource's scopes."""
    requests = parse_scopes_by_resource(manifest, raw, allow_empty=allow_empty)
    if len(requests) > 1:
        # A token is for one audience: Entra refuses several resources at the token endpoint
        # (observed on redemption after a multi-resource /authorize: MSAL.js issue #1487).
        raise OAuthError(
            "invalid_request",
            28000,
            "Provided value for the input parameter scope is not valid because it contains more than one "
            "resource. Scope " + " ".join((raw or "").split()) + " is not valid.",
        )
    return requests[0]
