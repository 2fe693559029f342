"""Flask adapter for the resource server: bearer extraction, decorators, ``current_token``.

Errors become RFC 6750 answers in ``register_error_handlers`` (one place).
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Callable

from flask import Blueprint, g, jsonify, request
from werkzeug.local import LocalProxy

from .authorization import authorize
from .errors import (
    ClientCredentialError,
    ConsentRequired,
    DownstreamUnavailable,
    IdentityProviderUnavailable,
    InsufficientScope,
    InteractionRequired,
    InvalidToken,
    ProviderError,
)
from .flask_ext import entra_state
from .jwt_validation import ValidatedToken

security_log = logging.getLogger("entra_auth.security")
log = logging.getLogger(__name__)

current_token: ValidatedToken = LocalProxy(lambda: g.get("entra_token"))  # type: ignore[assignment]


def current_assertion() -> str:
    """The validated bearer token as sent (the on-behalf-of assertion)."""
    return g.entra_assertion


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
            raw = bearer_token()
            token = state.validator.validate(raw)
            g.entra_token = token
            g.entra_assertion = raw  # for on-behalf-of; never logged
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
            response = jsonify({"error": "unauthorized", "message": "A bearer token is required.",
                                "request_id": g.get("request_id")})
            response.headers["WWW-Authenticate"] = _challenge()
        else:
            response = jsonify({"error": "invalid_token", "message": exc.reason, "request_id": g.get("request_id")})
            response.headers["WWW-Authenticate"] = _challenge(error="invalid_token", error_description=exc.reason)
        response.status_code = 401
        return response

    @bp.errorhandler(InsufficientScope)
    def _insufficient(exc: InsufficientScope):
        _log_refusal("insufficient_scope", exc.reason)
        needed = " ".join(exc.needed)
        response = jsonify({"error": "insufficient_scope", "message": exc.reason, "needed": exc.needed,
                            "request_id": g.get("request_id")})
        response.headers["WWW-Authenticate"] = _challenge(
            error="insufficient_scope", error_description=exc.reason, scope=needed
        )
        response.status_code = 403
        return response

    @bp.errorhandler(IdentityProviderUnavailable)
    def _unavailable(exc: IdentityProviderUnavailable):
        security_log.error("identity provider unavailable: %s (request_id=%s)", exc.reason, g.get("request_id", "-"))
        return _unavailable_answer("The identity provider cannot be reached; try again shortly.")

    @bp.errorhandler(DownstreamUnavailable)
    def _downstream_unavailable(exc: DownstreamUnavailable):
        log.error("downstream unavailable: %s (request_id=%s)", exc.reason, g.get("request_id", "-"))
        return _unavailable_answer("A service this API depends on is unavailable; try again shortly.")

    @bp.errorhandler(ClientCredentialError)
    def _credential_problem(exc: ClientCredentialError):
        # An operator problem (expired certificate, wrong federated subject...), not the caller's.
        api = entra_state().api
        log.error("the API's own client credential was refused: %s; credential in use: %s (request_id=%s)",
                  exc.reason, api.credential.describe() if api else "-", g.get("request_id", "-"))
        return _unavailable_answer("This API cannot authenticate to the identity provider right now.")

    @bp.errorhandler(InteractionRequired)
    def _interaction_required(exc: InteractionRequired):
        # From on-behalf-of or the downstream: the caller's token cannot buy what is needed.
        _log_refusal("interaction_required", exc.reason)
        if exc.claims:
            claims = base64.b64encode(exc.claims.encode()).decode()
            response = jsonify({"error": "insufficient_claims", "message": "Sign in again to satisfy a policy.",
                                "request_id": g.get("request_id")})
            response.headers["WWW-Authenticate"] = _challenge(
                error="insufficient_claims", error_description="claims challenge", claims=claims)
        else:
            response = jsonify({"error": "invalid_token", "message": "The token cannot be used for this call.",
                                "request_id": g.get("request_id")})
            response.headers["WWW-Authenticate"] = _challenge(
                error="invalid_token", error_description="token cannot be exchanged")
        response.status_code = 401
        return response

    @bp.errorhandler(ConsentRequired)
    def _consent_required(exc: ConsentRequired):
        _log_refusal("consent_required", exc.reason)
        response = jsonify({"error": "consent_required",
                            "message": f"An administrator must grant this API the {exc.permission or 'needed'} "
                                       "permission (admin consent) before it can act for users of your tenant.",
                            "permission": exc.permission, "request_id": g.get("request_id")})
        response.status_code = 403
        return response

    @bp.errorhandler(ProviderError)
    def _provider_error(exc: ProviderError):
        log.error("identity provider error %s correlation_id=%s trace_id=%s (request_id=%s)",
                  exc.reason, exc.correlation_id or "-", exc.trace_id or "-", g.get("request_id", "-"))
        response = jsonify({"error": "bad_gateway", "message": "The identity provider refused the request.",
                            "request_id": g.get("request_id")})
        response.status_code = 502
        return response


def _unavailable_answer(message: str):
    response = jsonify({"error": "temporarily_unavailable", "message": message, "request_id": g.get("request_id")})
    response.headers["Retry-After"] = "5"
    response.status_code = 503
    return response
