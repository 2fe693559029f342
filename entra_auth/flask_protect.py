"""Flask adapter for the resource server: bearer extraction, decorators, ``current_token``.

Errors become RFC 6750 answers in ``register_error_handlers`` (one place).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from flask import Blueprint, g, jsonify, request
from werkzeug.local import LocalProxy

from .authorization import authorize
from .errors import IdentityProviderUnavailable, InsufficientScope, InvalidToken
from .flask_ext import entra_state
from .jwt_validation import ValidatedToken

security_log = logging.getLogger("entra_auth.security")

current_token: ValidatedToken = LocalProxy(lambda: g.get("entra_token"))  # type: ignore[assignment]


class MissingToken(InvalidToken):
    """No bearer token at all: RFC 6750 §3.1 says answer a bare challenge."""


def bearer_token() -> str:
    """The token of ``Authorization: Bearer <token>``; never the query string or a form."""
    header = request.headers.get("Authorization")
    if header is None:
        raise MissingToken("no token")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MissingToken("no bearer token")
    token = token.strip()
    if not token or " " in token:
        raise InvalidToken("malformed authorization header")
    return token


def require_token(*, scopes: tuple[str, ...] = (), app_roles: tuple[str, ...] = ()) -> Callable:
    """Validate the bearer token and enforce scopes (user calls) or app roles (app-only calls)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            state = entra_state()
            token = state.validator.validate(bearer_token())
            g.entra_token = token
            authorize(token, scopes=scopes, app_roles=app_roles, allowed_apps=state.allowed_client_apps)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def require_scope(*scopes: str) -> Callable:
    return require_token(scopes=scopes)


def require_app_role(*roles: str) -> Callable:
    return require_token(app_roles=roles)


def require_scope_or_app_role(scopes: tuple[str, ...] | str, roles: tuple[str, ...] | str) -> Callable:
    as_tuple = lambda v: (v,) if isinstance(v, str) else tuple(v)  # noqa: E731
    return require_token(scopes=as_tuple(scopes), app_roles=as_tuple(roles))


def _challenge(**params: str) -> str:
    if not params:
        return "Bearer"
    # Quoted-string values; the reasons are fixed ASCII text, never token contents.
    return "Bearer " + ", ".join(f'{k}="{v}"' for k, v in params.items())


def _log_refusal(kind: str, reason: str) -> None:
    token = g.get("entra_token")
    claims = token.claims if token is not None else {}
    security_log.warning(
        "api refusal kind=%s reason=%s app=%s tid=%s request_id=%s path=%s",
        kind, reason, claims.get("azp") or claims.get("appid") or "-", claims.get("tid", "-"),
        g.get("request_id", "-"), request.path,
    )


def register_error_handlers(bp: Blueprint) -> None:
    @bp.errorhandler(InvalidToken)
    def _invalid(exc: InvalidToken):
        _log_refusal("invalid_token", exc.reason)
        if isinstance(exc, MissingToken):
            response = jsonify({"error": "unauthorized", "message": "A bearer token is required."})
            response.headers["WWW-Authenticate"] = _challenge()
        else:
            response = jsonify({"error": "invalid_token", "message": exc.reason})
            response.headers["WWW-Authenticate"] = _challenge(error="invalid_token", error_description=exc.reason)
        response.status_code = 401
        return response

    @bp.errorhandler(InsufficientScope)
    def _insufficient(exc: InsufficientScope):
        _log_refusal("insufficient_scope", exc.reason)
        needed = " ".join(exc.needed)
        response = jsonify({"error": "insufficient_scope", "message": exc.reason, "needed": exc.needed})
        response.headers["WWW-Authenticate"] = _challenge(
            error="insufficient_scope", error_description=exc.reason, scope=needed
        )
        response.status_code = 403
        return response

    @bp.errorhandler(IdentityProviderUnavailable)
    def _unavailable(exc: IdentityProviderUnavailable):
        security_log.error("identity provider unavailable: %s (request_id=%s)", exc.reason, g.get("request_id", "-"))
        response = jsonify({"error": "temporarily_unavailable",
                            "message": "The identity provider cannot be reached; try again shortly."})
        response.headers["Retry-After"] = "5"
        response.status_code = 503
        return response
