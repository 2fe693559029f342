"""An external (customer, CIAM) tenant's own pages: its discovery document, self-service sign-up
(email, display name, one-time passcode), and Graph's view of a customer.

External ID lets customers "create an account using their email and either a password or a one-time
passcode" (concept-authentication-methods-customers.md). The emulator keeps the passcode flow: the
code goes to an outbox (``/_emulator/outbox?to=<email>``) instead of a mailbox.
"""

from __future__ import annotations

import re
import time
import uuid

from flask import Blueprint, current_app, g, jsonify, render_template, request

from .core import Emulator
from .discovery import openid_configuration
from .manifest import Tenant, User
from .protocol import OAuthError

bp = Blueprint("external", __name__)
EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
MAX_NAME = 256
MAX_EMAIL = 254


def _emu() -> Emulator:
    return current_app.extensions["entra_emulator"]


def _external_tenant(segment: str) -> Tenant:
    """The external tenant the URL names, asked on its own host; anything else is an error page."""
    tenant = _emu().check_tenant_segment(segment, request.host)
    if tenant is None or not tenant.is_external:
        raise OAuthError("invalid_request", 90002, "Self-service sign-up is offered by external tenants only.")
    return tenant


def _pending_request(request_id: str, segment: str):
    pending = _emu().state.pending.get(request_id)
    if pending is None or pending.tenant != segment or time.time() - pending.created > 1800:
        raise OAuthError("invalid_request", 50058, "This sign-in page has expired or was already used. Start again.")
    return pending


@bp.errorhandler(OAuthError)
def _error(exc: OAuthError):
    from .server import _error_page

    return _error_page(exc)


@bp.get("/<segment>/signup")
def sign_up_form(segment: str):
    _external_tenant(segment)
    request_id = request.args.get("request_id", "")
    _pending_request(request_id, segment)
    return render_template("signup.html", segment=segment, request_id=request_id, email="", name="", problem=None)


@bp.post("/<segment>/signup")
def sign_up_send_code(segment: str):
    """Check the email and name, and send a one-time passcode to the email."""
    emu = _emu()
    _external_tenant(segment)
    request_id = request.form.get("request_id", "")
    _pending_request(request_id, segment)
    email = request.form.get("email", "").strip()
    name = " ".join(request.form.get("name", "").split())
    problem = None
    if len(email) > MAX_EMAIL or not EMAIL.match(email):
        problem = "Enter a valid email address."
    elif not name or len(name) > MAX_NAME or not name.isprintable():
        problem = f"Enter a display name (at most {MAX_NAME} characters)."
    elif emu.manifest.user(email) is not None:
        problem = "An account with this email address already exists. Sign in instead."
    if problem:
        g.error = {"error": "sign_up_refused"}
        return render_template("signup.html", segment=segment, request_id=request_id, email=email, name=name,
                               problem=problem), 400
    sign_up_id = emu.signups.start(request_id, segment, email, name)
    return render_template("signup_verify.html", segment=segment, sign_up_id=sign_up_id, email=email, problem=None)


@bp.post("/<segment>/signup/verify")
def sign_up_verify(segment: str):
    """The right code creates the account (a new ``oid``) and signs the customer in to the app."""
    from .server import _issue_code, _start_session

    emu = _emu()
    tenant = _external_tenant(segment)
    sign_up_id = request.form.get("sign_up_id", "")
    done, outcome = emu.signups.verify(sign_up_id, request.form.get("code", ""))
    if done is None:
        g.error = {"error": f"sign_up_code_{outcome}"}
        if outcome == "wrong":
            return render_template("signup_verify.html", segment=segment, sign_up_id=sign_up_id,
                                   email=request.form.get("email", ""),
                                   problem="That code is wrong. Check the latest email and try again."), 400
        raise OAuthError("invalid_request", 50058,
                         "The verification code has expired or was tried too often. Start the sign-up again.")
    with emu.state.lock:
        pending = emu.state.pending.pop(done.request_id, None)
        if pending is None or pending.tenant != segment:
            raise OAuthError("invalid_request", 50058, "This sign-in page has expired or was already used. Start again.")
        if emu.manifest.user(done.email) is not None:  # another sign-up with the same email finished first
            raise OAuthError("invalid_request", 50058,
                             "An account with this email address already exists. Sign in instead.")
        user = User(tenant=tenant.key, username=done.email, name=done.name, oid=str(uuid.uuid4()), roles=[],
                    email=done.email)
        emu.manifest.users.append(user)
    client = emu.manifest.registration(pending.client_key)
    assert client is not None
    g.signed_up = user.oid
    session = _start_session(user, force_new=True)
    return _issue_code(emu, pending, client, user, session)


@bp.get("/_emulator/outbox")
def outbox():
    """The emails the emulator would have sent to ``to`` (one-time passcodes), newest last."""
    to = request.args.get("to", "")
    if not to:
        return jsonify({"error": "name the recipient: ?to=<email>"}), 400
    return jsonify({"messages": _emu().signups.sent_to(to)})


def external_discovery(emu: Emulator, segment: str, tenant: Tenant) -> dict:
    """An External ID tenant's OpenID configuration.

    Fetched at the authority (``https://<sub>.ciamlogin.com/<tenant>/v2.0/...`` in Entra; the
    emulator's external host here), it names an issuer on another host,
    ``https://<tid>.ciamlogin.com/<tid>/v2.0`` (security-tokens.md, "Token endpoints and issuers"),
    and a ``jwks_uri`` whose keys are not the workforce ones. The endpoints are on the authority's
    host, the one MSAL resolves (the issuer's host does not resolve on loopback).
    """
    return openid_configuration(emu.external.authority_url, segment, emu.issuer.issuer(tenant.id), workforce=False)


def customer_profile(user: User, tenant: Tenant) -> dict:
    """Graph's ``/me`` for a customer: what they entered at sign-up and nothing else.

    A customer has no job title, office or phone unless a sign-up flow collected them (External ID's
    user attributes); their sign-in email is ``mail`` (the email identity), and their user principal
    name is a directory-made one, not the email.
    """
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
        "id": user.oid,
        "displayName": user.name,
        "givenName": user.given_name or None,
        "surname": user.surname or None,
        "jobTitle": user.job_title or None,
        "mail": user.email or None,
        "userPrincipalName": f"{user.oid}@{tenant.domain}",
        "businessPhones": [],
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
    }
