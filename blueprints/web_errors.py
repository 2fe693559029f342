"""The web tier's answers to the identity core's typed errors: pages, or a trip through sign-in.

One place, so every page behaves the same: an ``InteractionRequired`` sends
the browser through sign-in (with the missing scope, or the claims challenge)
and back; an outage is a 503 page that names what is down; a failed sign-in is
a 400 page with a reference to quote; never a stack trace.
"""

from __future__ import annotations

import logging
import time

import redis
from flask import Flask, g, request, session
from flask_limiter import RateLimitExceeded

from entra_auth.errors import (
    ClientCredentialError,
    ConsentRequired,
    DownstreamUnavailable,
    EntraAuthError,
    IdentityProviderUnavailable,
    InteractionRequired,
    ProviderError,
    RefreshedIdentityRefused,
    SignInFailed,
)
from entra_auth.flask_ext import entra_state
from entra_auth.flask_web import current_path
from entra_auth.group_membership import MembershipUnavailable
from entra_auth.token_cache import TokenCacheBusy

from .auth import CLAIMS_LOOP_WINDOW_SECONDS, begin_sign_in
from .error_pages import WayOn, render_error_page

log = logging.getLogger(__name__)
security_log = logging.getLogger("entra_auth.security")


class SessionStoreUnavailable(Exception):
    """Redis could not be read when the session was opened."""


def page(title: str, message: str, status: int, *, retry_after: int | None = None,
         ways_on: list[WayOn] | None = None):
    return render_error_page(status, title, message, retry_after=retry_after, ways_on=ways_on)


def _credential_in_use() -> str:
    try:
        return entra_state().web.msal_apps.credential.describe()
    except Exception:  # noqa: BLE001 - describing must never hide the original problem
        return "unknown"


def guard_session(app: Flask) -> None:
    """Refuse to work on an unreadable session (Redis down): a 503, before anything (CSRF
    included) could mistake the missing session for a stale form or an anonymous visitor."""

    @app.before_request
    def _session_must_be_readable():
        if getattr(session, "unavailable", False):
            raise SessionStoreUnavailable()


def register(app: Flask) -> None:
    @app.errorhandler(InteractionRequired)
    def _sign_in_again(exc: InteractionRequired):
        if exc.claims and time.time() - float(session.get("claims_answered_at", 0)) < CLAIMS_LOOP_WINDOW_SECONDS:
            # The sign-in we just did for this challenge did not satisfy it: stop here.
            security_log.warning("claims challenge repeated right after re-authentication (request_id=%s)",
                                 g.get("request_id"))
            return page("Access needs more than this sign-in",
                        "Your organization asks for extra verification that this sign-in could not provide. "
                        "Contact your administrator and quote the reference below.", 403)
        next_path = current_path() if request.method == "GET" else request.path
        try:
            return begin_sign_in(next_path, scopes=exc.scopes or None, claims=exc.claims)
        except (EntraAuthError, redis.RedisError, TokenCacheBusy, RateLimitExceeded) as failure:
            # An error inside an error handler would be Flask's bare 500: hand it to its own handler.
            return app.handle_user_exception(failure)

    @app.errorhandler(RefreshedIdentityRefused)
    def _refresh_switched_user(exc: RefreshedIdentityRefused):
        # The user's token cache answered for someone else, or with an ID token that failed validation:
        # its tokens were neither used nor stored, and the cache is gone. Every session of this user
        # relied on that one cache, so all of them end (on every worker), and this browser signs in
        # afresh. Only the identity provider's answer can cause this, never another user's request, so
        # it is no lever for signing anyone out.
        oid, _, tid = exc.partition.partition(".")
        security_log.warning("refresh refused: %s; the user's sessions end (oid=%s tid=%s request_id=%s)",
                             exc.reason, oid, tid, g.get("request_id"))
        next_path = current_path() if request.method == "GET" else request.path
        web = entra_state().web
        try:
            web.sessions.end(session)
            web.sessions.end_indexed("user", exc.partition)
            g.pop("entra_user", None)  # no login_hint for the user whose session just ended
            return begin_sign_in(next_path)
        except (EntraAuthError, redis.RedisError, TokenCacheBusy) as failure:
            return app.handle_user_exception(failure)

    @app.errorhandler(SignInFailed)
    def _sign_in_failed(exc: SignInFailed):
        security_log.warning("sign-in refused: %s (request_id=%s)", exc.reason, g.get("request_id"))
        return page("Sign-in could not be completed",
                    "Something about this sign-in was not right, so you were not signed in. "
                    "Please start again from the sign-in button.", 400)

    @app.errorhandler(ConsentRequired)
    def _consent(exc: ConsentRequired):
        return page("An administrator needs to approve this app",
                    f"Your organization has not granted the permission {exc.permission or 'this page needs'}. "
                    "Ask an administrator to grant admin consent.", 403)

    @app.errorhandler(ClientCredentialError)
    def _credential(exc: ClientCredentialError):
        log.error("the web app's client credential was refused: %s; credential in use: %s (request_id=%s)",
                  exc.reason, _credential_in_use(), g.get("request_id"))
        return page("Sign-in is unavailable", "The app cannot reach the sign-in service right now. "
                    "The problem was logged; please try again later.", 503, retry_after=30)

    @app.errorhandler(IdentityProviderUnavailable)
    def _idp_down(exc: IdentityProviderUnavailable):
        log.error("identity provider unavailable: %s (request_id=%s)", exc.reason, g.get("request_id"))
        return page("The sign-in service is unavailable",
                    "Microsoft Entra ID cannot be reached right now. Please try again in a moment.", 503, retry_after=5)

    @app.errorhandler(ProviderError)
    def _provider_error(exc: ProviderError):
        log.error("identity provider error %s correlation_id=%s trace_id=%s (request_id=%s)", exc.reason,
                  exc.correlation_id or "-", exc.trace_id or "-", g.get("request_id"))
        return page("The sign-in service refused the request",
                    "Please try again; if it keeps happening, contact support with the reference below.", 502)

    @app.errorhandler(DownstreamUnavailable)
    def _downstream_down(exc: DownstreamUnavailable):
        log.error("%s (request_id=%s)", exc.reason, g.get("request_id"))
        return page("The orders service is unavailable",
                    "The orders service cannot be reached right now. Please try again in a moment.", 503, retry_after=5)

    @app.errorhandler(MembershipUnavailable)
    def _membership_unknown(exc: MembershipUnavailable):
        # Fail closed: not knowing the user's groups is an outage, never "not a member" (nor "a member").
        log.error("%s (request_id=%s)", exc.reason, g.get("request_id"))
        return page("Your access cannot be checked right now",
                    "The directory service that tells which groups you belong to is unavailable. "
                    "Nothing was changed: please try again in a moment.", 503, retry_after=5)

    @app.errorhandler(SessionStoreUnavailable)
    @app.errorhandler(redis.RedisError)
    @app.errorhandler(TokenCacheBusy)
    def _store_down(exc: Exception):
        log.error("session or token store unavailable: %s (request_id=%s)", type(exc).__name__, g.get("request_id"))
        return page("Temporarily unavailable",
                    "The app cannot reach its session store right now. Nothing was lost: please try again in a moment.",
                    503, retry_after=5)
