"""The emulator's HTTP surface: Entra v2.0 endpoints, managed identity, Graph-like
``/v1.0/me``, and the test-control surface under ``/_emulator``."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from . import spa
from .core import Emulator
from .cors import add_cors_headers
from .discovery import openid_configuration
from .framing import deny_framing
from .external_pages import customer_profile, external_discovery
from .grants import handle_token_request
from .graph_caller import graph_caller, graph_error, require_any_scope
from .protocol import OAuthError, parse_scopes_by_resource
from .state import ENDPOINTS, TOKEN_FAULTS, CodeGrant, EndpointFault, PendingAuthorization, SignInSession, TokenFault
from .tokens import unverified_parts

SESSION_COOKIE = "emu_session"
CLIENT_REQUEST_ID = "client-request-id"
PROMPTS = frozenset({"login", "select_account", "consent", "none"})
REDACTED_FORM_FIELDS = frozenset({"client_secret", "client_assertion", "assertion", "code", "refresh_token", "code_verifier"})


def create_emulator_app(emu: Emulator) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    app.extensions["entra_emulator"] = emu

    @app.before_request
    def _faults_and_context():
        # Every answer gets its own request id (x-ms-request-id), which error bodies call trace_id;
        # the correlation id is the client's client-request-id when it sent one. Set before the
        # body is read, so even a refused body (413) is answered with both.
        g.request_id = str(uuid.uuid4())
        g.started = time.time()
        g.client_request_id = None
        g.correlation_id = str(uuid.uuid4())
        g.client_request_id = _client_request_id()
        g.correlation_id = g.client_request_id or g.correlation_id
        g.endpoint_name = _endpoint_name()
        if g.endpoint_name:
            fault = emu.state.endpoint_fault(g.endpoint_name)
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.mode == "fail":
                    return _fault_response(fault)
        return None

    @app.after_request
    def _log(response: Response):
        if request.path.startswith(("/_emulator", "/static")):
            return response
        response.headers["x-ms-request-id"] = g.request_id
        add_cors_headers(response.headers, endpoint=g.get("endpoint_name"), method=request.method,
                         origin=request.headers.get("Origin"))
        if g.get("endpoint_name") == "authorize" and response.mimetype == "text/html" \
                and not g.get("authorization_answer"):
            deny_framing(response.headers)  # the account picker and error pages: never in a frame
        if request.headers.get(CLIENT_REQUEST_ID) and g.client_request_id:
            # Echoed when sent as a header (MSAL Python and MSAL.NET do; MSAL.NET compares it). A
            # recorded Entra answer to MSAL Node, which sends it as a parameter, carries no echo.
            response.headers[CLIENT_REQUEST_ID] = g.client_request_id
        entry = {
            "time": g.get("started", time.time()),
            "method": request.method,
            "path": request.path,
            "endpoint": g.get("endpoint_name"),
            "status": response.status_code,
            "correlation_id": g.get("correlation_id"),
            "client_request_id": g.get("client_request_id"),
            "request_id": g.request_id,
        }
        try:
            form = request.form if request.method == "POST" else request.args
        except HTTPException:  # a refused body (413) has no fields to log, and must not become a 500
            form = {}
        for key in ("grant_type", "client_id", "scope", "requested_token_use", "client_assertion_type", "prompt",
                    "response_mode", "code_challenge_method", "resource", "claims", "login_hint"):
            if key in form:
                entry[key] = form[key]
        entry["redacted_fields"] = sorted(k for k in form if k in REDACTED_FORM_FIELDS)
        for key in ("client_auth", "error", "issued", "bearer", "user", "front_channel", "logout_hint_user",
                    "signed_up"):
            if key in g:
                entry[key] = g.get(key)
        emu.state.record(entry)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.errorhandler(OAuthError)
    def _oauth_error(exc: OAuthError):
        g.error = {"error": exc.error, "code": exc.code}
        return jsonify(exc.body(g.get("correlation_id"), g.get("request_id"))), exc.status

    # -- discovery and keys --------------------------------------------------------------
    @app.get("/<segment>/v2.0/.well-known/openid-configuration")
    def discovery(segment: str):
        tenant = emu.check_tenant_segment(segment, request.host)
        if tenant is not None and tenant.is_external:
            return jsonify(external_discovery(emu, segment, tenant))
        issuer = emu.issuer.issuer(tenant.id if tenant else "{tenantid}")
        return jsonify(openid_configuration(emu.authority_host, segment, issuer, workforce=True))

    @app.get("/<segment>/discovery/v2.0/keys")
    def jwks(segment: str):
        tenant = emu.check_tenant_segment(segment, request.host)
        if tenant is not None and tenant.is_external:
            # The external tenant's own keys: a workforce token's kid is not among them, nor the reverse.
            return jsonify({"keys": [k.jwk() for k in emu.external_keys.published()]})
        # Entra's keys carry the issuer they sign for; its multi-tenant keys the {tenantid}
        # template, which validators fill in with the token's tid (access-tokens.md, "Validate the issuer").
        issuer = emu.issuer.issuer("{tenantid}")
        return jsonify({"keys": [k.jwk(issuer) for k in emu.keys.published()]})

    # -- authorize -------------------------------------------------------------------------
    @app.route("/<segment>/oauth2/v2.0/authorize", methods=["GET", "POST"])
    def authorize(segment: str):
        params = {k: v for k, v in (request.form if request.method == "POST" else request.args).items()}
        try:
            emu.check_tenant_segment(segment, request.host)
        except OAuthError as exc:
            return _error_page(exc)
        return _authorize(emu, segment, params)

    @app.post("/<segment>/login")
    def login(segment: str):
        pending = emu.state.pending.pop(request.form.get("request_id", ""), None)
        if pending is None or pending.tenant != segment or time.time() - pending.created > 1800:
            return _error_page(
                OAuthError("invalid_request", 50058, "This sign-in page has expired or was already used. Start again."),
            )
        client = emu.manifest.registration(pending.client_key)
        assert client is not None
        if request.form.get("action") == "cancel":
            # Entra marks a user's cancel with error_subcode=cancel (MSAL.NET reads it as UserCancel:
            # AuthorizationResult.FromParsedValues); AADSTS65004 is Entra's "user declined to consent".
            return _redirect_error(
                pending.params,
                OAuthError("access_denied", 65004, "User declined to consent to access the app.", suberror="cancel"),
            )
        user = emu.manifest.user(request.form.get("username", ""))
        if user is None or not emu.user_can_sign_in(user, segment):
            return _error_page(OAuthError("invalid_request", 50034, "The user account does not exist in this tenant."))
        if not emu.manifest.is_provisioned_in(client, user.tenant):
            return _redirect_error(
                pending.params,
                OAuthError("invalid_client", 700016, f"Application '{client.client_id}' is not available in the user's tenant."),
            )
        asked = dict(pending.extra_consent)
        if pending.resource_key:
            asked[pending.resource_key] = pending.resource_values
        for resource_key, values in asked.items():
            resource = emu.manifest.registration(resource_key)
            missing = set(values) - emu.consented(user, user.tenant, client, resource) if resource else set()
            if missing:
                # The page showed the permissions; picking the account accepts them (user consent).
                with emu.state.lock:
                    emu.state.user_consent.setdefault((user.oid, client.key, resource_key), set()).update(missing)
        session = _start_session(user, force_new=pending.params.get("prompt") == "login")
        return _issue_code(emu, pending, client, user, session)

    # -- token -------------------------------------------------------------------------------
    @app.post("/<segment>/oauth2/v2.0/token")
    def token(segment: str):
        emu.check_tenant_segment(segment, request.host)
        form = {k: v for k, v in request.form.items()}
        response = handle_token_request(emu, segment, form, request.headers.get("Authorization"),
                                        origin=request.headers.get("Origin"))
        g.issued = _summaries(response)
        return jsonify(response)

    # -- logout ------------------------------------------------------------------------------------
    @app.route("/<segment>/oauth2/v2.0/logout", methods=["GET", "POST"])
    def logout(segment: str):
        try:
            emu.check_tenant_segment(segment, request.host)
        except OAuthError as exc:
            return _error_page(exc)
        params = request.form if request.method == "POST" else request.args
        target = params.get("post_logout_redirect_uri")
        if target and not any(target in r.post_logout_redirect_uris or r.redirect_platform(target)
                               for r in emu.manifest.registrations):
            return _error_page(
                OAuthError(
                    "invalid_request",
                    50011,
                    f"The post_logout_redirect_uri '{target}' does not match a URL registered on any application.",
                )
            )
        session = _current_session()
        frames: list[str] = []
        # logout_hint: the login_hint claim, naming the account to sign out without a picker
        # (the emulator has no picker here; the request log shows whom it named).
        hinted = emu.issuer.user_for_login_hint(params.get("logout_hint") or "")
        if hinted is not None:
            g.logout_hint_user = hinted.oid
        if session is not None:
            session.ended = True
            for client_id in sorted(session.clients):
                client = emu.manifest.registration(client_id)
                if client and client.front_channel_logout_url:
                    # Entra sends sid alone, without the iss OpenID Front-Channel Logout 1.0 §2
                    # asks for (docs/emulator-fidelity.md): so does the emulator.
                    frames.append(f"{client.front_channel_logout_url}?{urlencode({'sid': session.sid})}")
            g.user = session.user_oid
        g.front_channel = frames
        response = Response(render_template("signed_out.html", frames=frames, target=target))
        response.delete_cookie(SESSION_COOKIE, path="/", secure=True, samesite="None")
        return response

    # -- managed identity (App Service protocol) -----------------------------------------------------
    @app.get("/msi/token")
    def managed_identity():
        if not secrets.compare_digest(request.headers.get("X-IDENTITY-HEADER", ""), emu.identity_header):
            return jsonify({"statusCode": 401, "message": "The X-IDENTITY-HEADER header is missing or wrong."}), 401
        if request.args.get("api-version") != "2019-08-01":
            return jsonify({"statusCode": 400, "message": "api-version 2019-08-01 is required."}), 400
        resource = request.args.get("resource")
        if not resource:
            return jsonify({"statusCode": 400, "message": "The resource parameter is required."}), 400
        mi = emu.manifest.managed_identity(
            client_id=request.args.get("client_id"), principal_id=request.args.get("object_id")
        )
        if mi is None or request.args.get("mi_res_id"):
            return jsonify({"statusCode": 400, "message": "No managed identity with that identifier is assigned to this host."}), 400
        token, lifetime = emu.issuer.managed_identity_token(mi, resource)
        g.issued = _summaries({"access_token": token})
        return jsonify(
            {
                "access_token": token,
                "expires_on": str(int(time.time()) + lifetime),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": mi.client_id,
            }
        )

    # -- Graph-like downstream -----------------------------------------------------------------------
    @app.get("/v1.0/me")
    def graph_me():
        return _graph_me(emu)

    # -- landing page -----------------------------------------------------------------------------
    @app.get("/")
    def index():
        return render_template("index.html", emu=emu)

    from .control import bp as control_bp
    from .external_pages import bp as external_bp
    from .graph_groups import bp as graph_groups_bp

    app.register_blueprint(control_bp)
    app.register_blueprint(external_bp)
    app.register_blueprint(graph_groups_bp)
    return app


# ---------------------------------------------------------------------------------------------------
def _emu() -> Emulator:
    from flask import current_app

    return current_app.extensions["entra_emulator"]


def _client_request_id() -> str | None:
    """The correlation id the client sent: MSAL Python and MSAL.NET send a ``client-request-id``
    header, MSAL.js and MSAL Node a ``client-request-id`` parameter. Only a GUID is taken (what
    every MSAL sends), so the log never carries arbitrary client text."""
    value = request.headers.get(CLIENT_REQUEST_ID) or request.args.get(CLIENT_REQUEST_ID)
    if not value and request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        value = request.form.get(CLIENT_REQUEST_ID)
    if not value or len(value) > 64:
        return None
    try:
        uuid.UUID(value.strip())
    except ValueError:
        return None
    return value.strip()


def _endpoint_name() -> str | None:
    path = request.path
    if path.endswith("/.well-known/openid-configuration"):
        return "discovery"
    if path.endswith("/discovery/v2.0/keys"):
        return "jwks"
    if path.endswith(("/oauth2/v2.0/authorize", "/login", "/signup", "/signup/verify")):
        return "authorize"
    if path.endswith("/oauth2/v2.0/token"):
        return "token"
    if path.endswith("/oauth2/v2.0/logout"):
        return "logout"
    if path == "/msi/token":
        return "msi"
    if path.startswith("/v1.0/"):
        return "graph"
    return None


# Not Entra's answers: what a proxy or captive portal in front of it sends (fault body "html"), and
# a token response cut off mid-token (fault body "truncated_json"; the fragment looks like a token
# so tests can check that no log line repeats it).
MAINTENANCE_PAGE = ("<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>"
                    "<h1>Down for maintenance</h1><p>The gateway could not reach the service.</p></body></html>")
TRUNCATED_TOKEN_RESPONSE = ('{"token_type": "Bearer", "scope": "openid profile", "expires_in": 3599, '
                            '"ext_expires_in": 3599, "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ0cnVu')


# Graph's error codes for the statuses a test makes it answer (Graph's error reference; 403 as Graph's
# directory APIs answer missing permissions).
GRAPH_FAULT_CODES = {401: "InvalidAuthenticationToken", 403: "Authorization_RequestDenied",
                     429: "TooManyRequests", 503: "serviceNotAvailable", 504: "UnknownError"}


def _fault_response(fault: EndpointFault) -> tuple[Response, int]:
    if fault.body == "html":
        response = Response(MAINTENANCE_PAGE, content_type="text/html; charset=utf-8")
    elif fault.body == "truncated_json":
        response = Response(TRUNCATED_TOKEN_RESPONSE, content_type="application/json; charset=utf-8")
    elif fault.body == "graph":
        response = graph_error(fault.status, GRAPH_FAULT_CODES.get(fault.status, "generalException"),
                               "Emulated fault of the Graph-like API.")
    else:
        response = jsonify(OAuthError(
            "temporarily_unavailable",
            50196 if fault.status == 429 else 90033,
            "A transient error has occurred (emulated outage). Please try again.",
            status=fault.status,
        ).body(g.get("correlation_id"), g.get("request_id")))
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    elif fault.body == "entra" and fault.status in (429, 503):
        response.headers["Retry-After"] = "1"
    g.error = {"error": "emulated_fault", "status": fault.status}
    if fault.body != "entra":
        g.error["body"] = fault.body
    return response, fault.status


def _error_page(exc: OAuthError):
    g.error = {"error": exc.error, "code": exc.code}
    return render_template("error.html", error=exc, correlation_id=g.get("correlation_id"),
                           request_id=g.get("request_id")), exc.status


def _respond(params: dict[str, str], values: dict[str, str]):
    """Send the authorization response back the way the client asked (query or form_post)."""
    redirect_uri = params["redirect_uri"]
    mode = params.get("response_mode") or "query"
    g.authorization_answer = True  # no user interface: a hidden frame may receive it
    if mode == "form_post":
        return render_template("form_post.html", action=redirect_uri, fields=values)
    separator = "#" if mode == "fragment" else ("&" if "?" in redirect_uri else "?")
    return redirect(f"{redirect_uri}{separator}{urlencode(values)}", code=302)


def _redirect_error(params: dict[str, str], exc: OAuthError):
    g.error = {"error": exc.error, "code": exc.code}
    body = exc.body(g.get("correlation_id"), g.get("request_id"))
    values = {"error": exc.error, "error_description": body["error_description"], "error_uri": body["error_uri"]}
    if exc.suberror:
        values["error_subcode"] = exc.suberror
    if params.get("state"):
        values["state"] = params["state"]
    return _respond(params, values)


def _authorize(emu: Emulator, segment: str, params: dict[str, str]):
    # Errors before the redirect URI is trusted are shown on an error page, never redirected.
    try:
        emu.check_tenant_segment(segment)
    except OAuthError as exc:
        return _error_page(exc)
    client = emu.manifest.registration(params.get("client_id", ""))
    if client is None or client.first_party:
        return _error_page(
            OAuthError("unauthorized_client", 700016, f"Application with identifier '{params.get('client_id')}' was not found in the directory.")
        )
    tenant = emu.resolve_tenant(segment)
    if tenant is not None and not emu.manifest.is_provisioned_in(client, tenant.key):
        # Named tenant, app not in it (an external tenant holds only its own apps): Entra refuses
        # at once, before any account is picked.
        return _error_page(OAuthError(
            "unauthorized_client", 700016,
            f"Application with identifier '{client.client_id}' was not found in the directory '{tenant.display_name}'.",
        ))
    redirect_uri = params.get("redirect_uri", "")
    platform = client.redirect_platform(redirect_uri)
    if platform is None:
        return _error_page(
            OAuthError(
                "invalid_request",
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs "
                f"configured for the application '{client.client_id}'.",
            )
        )
    try:
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", 700054, "response_type must be 'code' for this application.")
        if params.get("response_mode", "query") not in ("query", "form_post", "fragment"):
            raise OAuthError("invalid_request", 900144, "response_mode must be query, fragment or form_post.")
        prompt = params.get("prompt")
        if prompt and prompt not in PROMPTS:
            raise OAuthError("invalid_request", 90023, f"Unsupported 'prompt' value '{prompt}'.")
        challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
        if challenge and method != "S256":
            raise OAuthError("invalid_request", 501491, "code_challenge_method must be S256.")
        if client.require_pkce and not challenge:
            raise OAuthError(
                "invalid_request", 9002325, "Proof Key for Code Exchange (S256) is required for this application."
            )
        if params.get("claims"):
            try:
                if not isinstance(json.loads(params["claims"]), dict):
                    raise ValueError
            except ValueError:
                raise OAuthError("invalid_request", 90100, "The 'claims' parameter is not a valid JSON object.") from None
        # Several resources are allowed here: the user consents to all of them at once (MSAL's "extra
        # scopes to consent"); the code is redeemed for one of them, and a token request naming two
        # is refused there (AADSTS28000), as Entra does.
        consent_requests = parse_scopes_by_resource(emu.manifest, params.get("scope"))
    except OAuthError as exc:
        return _redirect_error(params, exc)

    scopes, extras = consent_requests[0], consent_requests[1:]
    pending = PendingAuthorization(
        tenant=segment,
        params=params,
        client_key=client.key,
        scopes=scopes.qualified([".default"] if scopes.is_default else scopes.values),
        resource_key=scopes.resource.key if scopes.resource else None,
        resource_values=scopes.values,
        reserved=sorted(scopes.reserved),
        extra_consent={extra.resource.key: extra.values for extra in extras},
    )
    session = _current_session()
    user = emu.manifest.user(session.user_oid) if session else None
    # A username, or the opaque login_hint claim of an earlier ID token (Entra's best hint for SSO).
    raw_hint = params.get("login_hint") or ""
    hinted = emu.issuer.user_for_login_hint(raw_hint)
    hint = (hinted.username if hinted else raw_hint).lower()
    if user is not None and (not emu.user_can_sign_in(user, segment) or (hint and hint != user.username.lower())):
        user = None
    # What the signed-in user has not consented to yet, per resource (first one named first).
    missing: dict[str, set[str]] = {}
    if user is not None:
        for asked in consent_requests:
            if asked.resource is not None:
                lacking = set(asked.values) - emu.consented(user, user.tenant, client, asked.resource)
                if lacking:
                    missing[asked.resource.key] = lacking

    if prompt == "none":
        if user is None or session is None:
            return _redirect_error(
                params,
                OAuthError("login_required", 50058, "A silent sign-in request was sent but no user is signed in."),
            )
        if missing:
            key, lacking = next(iter(missing.items()))
            resource = emu.manifest.registration(key)
            return _redirect_error(params, emu.consent_error(client, lacking, resource, error="interaction_required"))
        return _issue_code(emu, pending, client, user, session)
    if prompt is None and user is not None and session is not None and not missing:
        return _issue_code(emu, pending, client, user, session)

    request_id = secrets.token_urlsafe(24)
    with emu.state.lock:
        emu.state.pending[request_id] = pending
    # Unlisted (load-test) users stay off the page unless hinted; they can still be picked by name.
    candidates = [u for u in emu.manifest.users
                  if emu.user_can_sign_in(u, segment) and (u.listed or u.username.lower() == hint)]
    # Each resource's permissions, listed on the page when any of them may need the user's consent.
    consents = [(r.resource, [s for s in r.resource.scopes if s.value in r.values])
                for r in consent_requests if r.resource is not None]
    return render_template(
        "authorize.html",
        emu=emu,
        client=client,
        segment=segment,
        request_id=request_id,
        users=candidates,
        hint=hint,
        show_consent=prompt == "consent" or bool(missing)
        or any(_needs_user_consent(emu, client, r.resource, r.values) for r in consent_requests if r.resource),
        consents=[(resource, permissions) for resource, permissions in consents if permissions],
        claims=params.get("claims"),
        can_sign_up=tenant is not None and tenant.is_external,  # External ID's self-service sign-up
    )


def _needs_user_consent(emu: Emulator, client, resource, values) -> bool:
    """Whether any tenant lacks admin consent for these scopes (the page then lists them)."""
    return any(set(values) - emu.manifest.consented_scopes(t.key, client, resource) for t in emu.manifest.tenants
               if emu.manifest.is_provisioned_in(client, t.key))


def _current_session() -> SignInSession | None:
    emu = _emu()
    session = emu.state.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
    if session is None or session.ended:
        return None
    return session


def _start_session(user, *, force_new: bool) -> SignInSession:
    emu = _emu()
    current = _current_session()
    if current is not None and current.user_oid == user.oid and not force_new:
        g.new_session_cookie = None
        return current
    auth_time = emu.state.not_before_revocation(user.oid, int(time.time()))
    session = SignInSession(user_oid=user.oid, sid=str(uuid.uuid4()), auth_time=auth_time)
    cookie = secrets.token_urlsafe(32)
    with emu.state.lock:
        emu.state.sessions[cookie] = session
    g.new_session_cookie = cookie
    return session


def _issue_code(emu: Emulator, pending: PendingAuthorization, client, user, session: SignInSession):
    params = pending.params
    with emu.state.lock:
        session.clients.add(client.client_id)
    code = emu.state.new_code(
        CodeGrant(
            client_id=client.client_id,
            redirect_uri=params["redirect_uri"],
            platform=client.redirect_platform(params["redirect_uri"]) or spa.WEB,
            user_oid=user.oid,
            tenant_key=user.tenant,
            resource_key=pending.resource_key,
            granted=sorted(pending.resource_values) if pending.resource_values else _default_grant(emu, pending, client, user),
            response_scope=pending.scopes,
            reserved=pending.reserved,
            nonce=params.get("nonce"),
            code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method"),
            sid=session.sid,
            auth_time=session.auth_time,
            claims_request=params.get("claims"),
        )
    )
    g.user = user.oid
    values = {"code": code, "session_state": session.sid}
    if params.get("state"):
        values["state"] = params["state"]
    response = _respond(params, values)
    cookie = g.get("new_session_cookie")
    if cookie:
        if not isinstance(response, Response):
            response = Response(response)
        response.set_cookie(SESSION_COOKIE, cookie, path="/", secure=True, httponly=True, samesite="None")
    return response


def _default_grant(emu: Emulator, pending: PendingAuthorization, client, user) -> list[str]:
    if pending.resource_key is None:
        return []
    resource = emu.manifest.registration(pending.resource_key)
    return sorted(emu.consented(user, user.tenant, client, resource)) if resource else []


def _summaries(response: dict) -> list[dict]:
    """What was issued, for the request log: claims that identify a token, never the token."""
    out = []
    for kind in ("access_token", "id_token"):
        token = response.get(kind)
        if not token:
            continue
        try:
            header, claims = unverified_parts(token)
        except ValueError:
            continue
        out.append(
            {
                "kind": kind,
                "kid": header.get("kid"),
                "alg": header.get("alg"),
                **{k: claims.get(k) for k in ("aud", "oid", "tid", "azp", "appid", "scp", "roles", "idtyp", "uti", "sid",
                                              "ver", "xms_cc")
                   if k in claims},
            }
        )
    if "refresh_token" in response:
        out.append({"kind": "refresh_token"})
    return out


def _graph_me(emu: Emulator):
    caller = graph_caller(emu)
    if isinstance(caller, Response):
        return caller
    denied = require_any_scope(caller, frozenset({"User.Read"}))
    if denied is not None:
        return denied
    user = caller.user
    tenant = emu.manifest.tenant_by_key(user.tenant)
    if tenant.is_external:
        return jsonify(customer_profile(user, tenant))
    return jsonify(
        {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "id": user.oid,
            "displayName": user.name,
            "givenName": user.given_name,
            "surname": user.surname,
            "jobTitle": user.job_title,
            "mail": user.username,
            "userPrincipalName": user.username,
            "businessPhones": [],
            "officeLocation": tenant.display_name,
        }
    )


# Re-exported for the control surface.
__all__ = ["create_emulator_app", "ENDPOINTS", "TOKEN_FAULTS", "EndpointFault", "TokenFault"]
