"""Sign-in and sign-out (OpenID Connect through MSAL): thin views over the identity core.

* ``/auth/login`` starts the auth-code + PKCE flow (``response_mode=form_post``);
  the flow stays in Redis, the browser gets only its key in a short-lived
  ``SameSite=None; Secure`` cookie, which still reaches Entra's cross-site POST.
* ``/auth/callback`` finishes it: MSAL redeems the code, the app validates the
  ID token itself, the session id is rotated, and the session keeps the claims
  and the name of the user's token-cache partition (never a token). An
  ``error=`` from Entra (the user cancelled, consent is needed...) goes on to
  ``/auth/signin-ended?reason=...``, a page that says what happened in our words.
* ``/auth/logout`` (POST, CSRF-protected) ends the session and the token cache,
  then Entra's session; ``/auth/logout/frontchannel`` is Entra's front-channel
  call, which ends the sessions named by ``sid`` wherever they were created.
"""

from __future__ import annotations

import hmac
import logging
import time
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, redirect, request, session, url_for

from entra_auth.errors import InteractionRequired, InvalidToken, SignInFailed
from entra_auth.flask_ext import entra_state
from entra_auth.flask_rate_limits import count_sign_in_start
from entra_auth.flask_web import current_user, kept_claims, safe_next
from entra_auth.signin_flows import PendingSignIn

from .error_pages import HOME, WayOn, render_error_page, sign_in_again
from .sign_in_endings import ENDINGS, aadsts_code, reason_for
from .web_config import external_url, sign_in_scopes

bp = Blueprint("auth", __name__, url_prefix="/auth")
security_log = logging.getLogger("entra_auth.security")

# A claims challenge met again this soon after the sign-in that answered one
# means the sign-in could not satisfy it: show an error instead of looping.
CLAIMS_LOOP_WINDOW_SECONDS = 120
# Session keys with this prefix survive a re-sign-in of the same user (forms kept across consent).
DRAFT_PREFIX = "draft:"


def begin_sign_in(next_path: str, *, scopes: list[str] | None = None, claims: str | None = None,
                  prompt: str | None = None) -> Response:
    """Redirect to Entra, keeping the flow in Redis and its key in the browser's sign-in cookie.

    Every sign-in starts here, so here it is counted: over the per-address limit the answer is
    429 (``RateLimitExceeded``) and nothing is written. The browser's previous pending flow, if
    its cookie names one, is replaced: one pending sign-in per browser.
    """
    state = entra_state().web
    cookie_name = current_app.config["SIGNIN_COOKIE_NAME"]
    count_sign_in_start()
    scopes = scopes or sign_in_scopes()
    # Re-authenticating a signed-in user (consent, claims challenge): Entra picks their account.
    login_hint = current_user.claims.get("preferred_username") if current_user else None
    flow = state.user_tokens.start_sign_in(scopes, external_url("auth.callback"), claims=claims, prompt=prompt,
                                           login_hint=login_hint)
    key = state.flows.save(PendingSignIn(
        flow=flow, next_path=safe_next(next_path), scopes=scopes, claims=claims, started_at=time.time(),
        previous_session=session.sid if session else None,
        carry={k: v for k, v in session.items() if k.startswith(DRAFT_PREFIX)},
    ), replaces=request.cookies.get(cookie_name))
    response = redirect(flow["auth_uri"])
    # SameSite=None: Entra's form_post callback is a cross-site POST (a Lax cookie would not come back).
    response.set_cookie(cookie_name, key, max_age=state.flows.ttl, secure=True,
                        httponly=True, samesite="None", path="/")
    return response


@bp.get("/login")
def login():
    return begin_sign_in(request.args.get("next", "/"))


@bp.route("/callback", methods=["GET", "POST"])
def callback():
    state = entra_state().web
    cookie_name = current_app.config["SIGNIN_COOKIE_NAME"]
    pending = state.flows.take(request.cookies.get(cookie_name))
    if pending is None:
        raise SignInFailed("no sign-in in progress in this browser")
    # form_post answers in the body; a query answer is accepted too (Entra's GET redirects).
    auth_response = {k: v for k, v in (request.form if request.method == "POST" else request.args).items()}
    if auth_response.get("error"):
        return _sign_in_ended(auth_response, pending, cookie_name)
    try:
        result = state.user_tokens.finish_sign_in(pending.flow, auth_response, pending.scopes)
    except InvalidToken as exc:
        security_log.warning("ID token refused at sign-in: %s (request_id=%s)", exc.reason, g.get("request_id"))
        raise SignInFailed(f"the ID token was refused ({exc.reason})") from None
    except InteractionRequired as exc:
        raise SignInFailed(f"the sign-in could not be completed ({exc.reason})") from None

    # A fresh session id at sign-in: whatever session the browser had before is dead (session
    # fixation). It is found through the pending sign-in: a real browser does not send its Lax
    # session cookie with this cross-site POST.
    sessions = state.sessions
    previous_user = sessions.end_by_id(pending.previous_session) if pending.previous_session else None
    if session and session.sid != pending.previous_session:
        sessions.end(session)
    sessions.rotate(session)
    session.clear()
    if previous_user == result.partition:
        # The same user re-authenticating (consent, claims challenge): their unsent forms come back.
        session.update(pending.carry)
    claims = result.id_token.claims
    session["claims"] = kept_claims(claims)
    session["partition"] = result.partition
    if pending.claims:
        session["claims_answered_at"] = time.time()
    sessions.bind(session, user_key=result.partition, entra_sid=claims.get("sid"))
    security_log.info("sign-in oid=%s tid=%s request_id=%s", claims.get("oid"), claims.get("tid"), g.get("request_id"))
    response = redirect(pending.next_path)
    response.delete_cookie(cookie_name, path="/", secure=True, httponly=True, samesite="None")
    return response


def _sign_in_ended(auth_response: dict[str, str], pending: PendingSignIn, cookie_name: str) -> Response:
    """Entra ended this sign-in with an error: say so on a page of our own (after a redirect, so a
    reload does not re-post the callback). Only an answer carrying this flow's ``state`` is believed."""
    if not hmac.compare_digest(auth_response.get("state", "").encode(), str(pending.flow.get("state", "")).encode()):
        raise SignInFailed("an error answer without this sign-in's state")
    error = auth_response["error"]
    reason = reason_for(error)
    security_log.warning("sign-in ended by the identity provider: error=%s aadsts=%s subcode=%s reason=%s "
                         "request_id=%s", error[:40] if reason != "failed" else "(other)",
                         aadsts_code(auth_response.get("error_description")) or "-",
                         "cancel" if auth_response.get("error_subcode") == "cancel" else "-", reason,
                         g.get("request_id"))
    # The reference goes along so the page quotes the id of the log line above.
    response = redirect(url_for("auth.signin_ended", reason=reason, ref=g.get("request_id")), code=303)
    response.delete_cookie(cookie_name, path="/", secure=True, httponly=True, samesite="None")
    return response


@bp.get("/signin-ended")
def signin_ended():
    """The page after a sign-in Entra ended: what happened, in plain words, and what to do next."""
    ending = ENDINGS.get(request.args.get("reason", ""), ENDINGS["failed"])
    ref = request.args.get("ref", "")
    if _looks_like_reference(ref):
        g.request_id = ref  # the callback's reference, which its log line carries
    ways = {"sign_in": [WayOn("Sign in again", "/auth/login"), HOME],
            "try_later": [WayOn("Try signing in again", "/auth/login"), HOME],
            "contact": [HOME, sign_in_again()]}[ending.next_step]
    return render_error_page(ending.status, ending.title, ending.message, ways_on=ways,
                             retry_after=ending.retry_after, tone=ending.tone)


def _looks_like_reference(value: str) -> bool:
    return 8 <= len(value) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)


@bp.post("/logout")
def logout():
    """Sign-out: session and token cache first (they are ours), then Entra's session."""
    state = entra_state().web
    user = current_user._get_current_object() if current_user else None
    hint = user.claims.get("login_hint") if user else None
    if user is not None:
        state.user_tokens.forget(user.partition)
    state.sessions.end(session)
    end_session = entra_state().metadata.get().get("end_session_endpoint")
    params = {"post_logout_redirect_uri": external_url("web.index")}
    if hint:
        params["logout_hint"] = hint  # Entra skips its account picker for this user
    return redirect(f"{end_session}?{urlencode(params)}" if end_session else url_for("web.index"))


@bp.get("/logout/frontchannel")
def frontchannel_logout():
    """Entra loads this in a hidden iframe after a sign-out elsewhere: end the sessions of that ``sid``.

    Cross-site frames carry no Lax cookie, so the session is found by ``sid``
    on the server. Entra sends ``sid`` alone, without the ``iss`` OpenID
    Front-Channel Logout 1.0 §2 asks for (docs/emulator-fidelity.md), so a bare
    ``sid`` is accepted; an ``iss`` that is present must be one of our tenants'
    issuers, or nothing ends. Any app in the user's Entra session learns the
    ``sid``: all it can do here is end sessions, and the answer is the same
    whether it matched any or not (no oracle).
    """
    sid = request.args.get("sid", "")
    issuer = request.args.get("iss")
    if not sid or len(sid) > 200:
        return Response("missing sid", status=400, mimetype="text/plain")
    if issuer is not None and not _known_issuer(issuer):
        return Response("unknown issuer", status=400, mimetype="text/plain")
    web = entra_state().web
    users = web.sessions.end_indexed("sid", sid)
    for user in users:
        # Their tokens go too, unless another session of theirs (another browser) still uses them.
        if not web.sessions.has_sessions(user):
            web.user_tokens.forget(user)
    security_log.info("front-channel logout ended the sessions of %d user(s) request_id=%s", len(users),
                      g.get("request_id"))
    response = Response("signed out", mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    g.frameable_by_identity_provider = True
    return response


def _known_issuer(issuer: str) -> bool:
    state = entra_state()
    policy = state.validator.policy
    return any(issuer == policy.issuer_for(tid, "2.0") for tid in policy.allowed_tenants)
