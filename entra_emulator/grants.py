"""The token endpoint: one function per grant type, each returning Entra's JSON."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import jwt
from flask import g

from . import refresh_faults, spa
from .client_auth import AuthenticatedClient, authenticate
from .core import Emulator
from .manifest import Registration, User
from .pki import b64url
from .protocol import OAuthError, ScopeRequest, parse_scopes, parse_scopes_by_resource
from .state import CodeGrant, RefreshGrant
from .tokens import client_capabilities

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def handle_token_request(
    emu: Emulator, segment: str, form: dict[str, str], authorization: str | None, *, origin: str | None = None
) -> dict:
    """Answer a token request; ``origin`` is its ``Origin`` header (set when a browser sent it)."""
    emu.check_tenant_segment(segment)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
    handler = {
        "authorization_code": _authorization_code,
        "refresh_token": _refresh_token,
        "client_credentials": _client_credentials,
        JWT_BEARER_GRANT: _on_behalf_of,
    }.get(grant_type)
    if handler is None:
        raise OAuthError("unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'.")
    # A code or refresh token of a spa redirect URI is the browser's: redeemed cross-origin and with
    # no credential; one of a web redirect URI never cross-origin. Checked before client authentication,
    # as Entra answers AADSTS9002326/9002327 to requests that carry no credential at all.
    spa.check_no_credential_from_a_browser(form, authorization, origin)
    presented = _presented_grant(emu, grant_type, form)
    platform = presented.platform if presented is not None else None
    if presented is not None:
        # A spa code issued without code_challenge is refused first, with or without Origin (AADSTS9002325).
        spa.check_redemption(presented.platform, origin,
                             pkce_missing=isinstance(presented, CodeGrant) and not presented.code_challenge)
    client = authenticate(
        emu.manifest,
        emu.issuer,
        emu.certificates,
        form,
        authorization,
        emu.endpoint(segment, "oauth2/v2.0/token"),
        public=platform == spa.SPA or (platform is None and bool(origin) and _is_spa_client(emu, form)),
    )
    # The request log names how the client authenticated (client_secret, certificate, federated).
    g.client_auth = client.method
    return handler(emu, segment, form, client)


def _presented_grant(emu: Emulator, grant_type: str, form: dict[str, str]) -> CodeGrant | RefreshGrant | None:
    """The code or refresh token presented, unspent (``None``: unknown, or another client's, left for
    the grant to refuse)."""
    with emu.state.lock:
        if grant_type == "authorization_code":
            grant = emu.state.codes.get(form.get("code", ""))
        elif grant_type == "refresh_token":
            grant = emu.state.refresh_tokens.get(form.get("refresh_token", ""))
        else:
            return None
    if grant is None or grant.client_id != form.get("client_id"):
        return None
    return grant


def _is_spa_client(emu: Emulator, form: dict[str, str]) -> bool:
    """A browser's request for a client with spa redirect URIs: an unknown code or refresh token is
    then refused as such (invalid_grant), not for the credential a browser never has."""
    registration = emu.manifest.registration(form.get("client_id", ""))
    return registration is not None and bool(registration.spa_redirect_uris)


# -- authorization code ------------------------------------------------------------------------
def _authorization_code(emu: Emulator, segment: str, form: dict[str, str], client: AuthenticatedClient) -> dict:
    code = form.get("code", "")
    with emu.state.lock:
        grant = emu.state.codes.get(code)
        already_redeemed = grant is not None and grant.redeemed
        if grant is not None:
            grant.redeemed = True  # single use, whatever happens next
    if grant is None:
        raise OAuthError("invalid_grant", 70000, "The provided value for the 'code' parameter is not valid.")
    if already_redeemed:
        raise OAuthError(
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing "
            "refresh token.",
        )
    if time.time() > grant.expires:
        raise OAuthError("invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity.")
    if grant.client_id != client.registration.client_id:
        raise OAuthError("invalid_grant", 70000, "The code was issued to another client.")
    if form.get("redirect_uri") != grant.redirect_uri:
        raise OAuthError(
            "invalid_grant",
            50011,
            f"The redirect URI '{form.get('redirect_uri')}' specified in the request does not match the redirect URI "
            "of the authorization request.",
        )
    if grant.code_challenge:
        verifier = form.get("code_verifier", "")
        computed = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        if not verifier or not hmac.compare_digest(computed, grant.code_challenge):
            raise OAuthError(
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            )
    user = _user(emu, grant.user_oid)
    if emu.state.is_revoked(user.oid, grant.auth_time):
        raise _revoked_grant()
    # The token request's scope names the one resource the token is for (a Microsoft extension:
    # after consent to several resources at /authorize, the code is redeemed for one of them;
    # two are refused with AADSTS28000). Naming none keeps the first resource of the authorization.
    request = parse_scopes(emu.manifest, form.get("scope"), allow_empty=True)
    if request.resource is None:
        resource = emu.manifest.registration(grant.resource_key) if grant.resource_key else None
        granted, response_scope = grant.granted, grant.response_scope
    else:
        resource = request.resource
        granted, response_scope = _delegated_scopes(emu, request, user, client.registration, grant.tenant_key)
    return _user_tokens(
        emu,
        client=client,
        user=user,
        resource=resource,
        scopes=granted,
        response_scope=response_scope,
        reserved=set(grant.reserved),
        sid=grant.sid,
        auth_time=grant.auth_time,
        nonce=grant.nonce,
        grant_name="authorization_code",
        want_client_info=form.get("client_info") == "1",
        acrs=_requested_acrs(grant.claims_request),
        capabilities=client_capabilities(form.get("claims") or grant.claims_request),
        refresh_platform=grant.platform,
        # A spa refresh token lives a fixed time from this sign-in (24 h unless a test shortened it).
        refresh_expires=time.time() + emu.state.spa_refresh_token_lifetime if grant.platform == spa.SPA else None,
    )


# -- refresh token -------------------------------------------------------------------------------
def _refresh_token(emu: Emulator, segment: str, form: dict[str, str], client: AuthenticatedClient) -> dict:
    token = form.get("refresh_token", "")
    with emu.state.lock:
        grant = emu.state.refresh_tokens.get(token)
        # Another client presenting it must not burn the owner's token.
        if grant is not None and grant.client_id != client.registration.client_id:
            grant = None
        reused = grant is not None and grant.used
        if grant is not None:
            grant.used = True
    if grant is None:
        raise OAuthError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid: unknown refresh token.")
    if emu.state.is_revoked(grant.user_oid, grant.auth_time):
        raise _revoked_grant()
    # Entra answers with a new refresh token but does not revoke the one presented: it stays valid
    # until it expires or the user's sessions are revoked. Refusing it is the emulator's opt-in
    # strict mode (EmulatorState.single_use_refresh_tokens), never the default.
    if reused and emu.state.single_use_refresh_tokens:
        raise OAuthError(
            "invalid_grant",
            70043,
            "The refresh token has already been used (the emulator's single_use_refresh_tokens test setting; "
            "Entra itself keeps a used refresh token valid). Sign in again.",
        )
    if time.time() > grant.expires:
        if grant.platform == spa.SPA:
            raise spa.refresh_token_expired(grant.issued, round(grant.expires - grant.issued))
        raise OAuthError("invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity.")
    user = _user(emu, grant.user_oid)
    request = parse_scopes(emu.manifest, form.get("scope"), allow_empty=True)
    granted, response_scope = _delegated_scopes(emu, request, user, client.registration, grant.tenant_key)
    # Tests only: an answer that describes someone else, which the client must refuse.
    switch = refresh_faults.take(emu.state, emu.manifest, client.registration.client_id, user)
    response = _user_tokens(
        emu,
        client=client,
        user=switch.answering_user(user) if switch else user,
        resource=request.resource,
        scopes=granted,
        response_scope=response_scope,
        reserved=request.reserved | {"offline_access"},
        sid=grant.sid,
        auth_time=grant.auth_time,
        nonce=None,
        grant_name="refresh_token",
        want_client_info=form.get("client_info") == "1",
        capabilities=client_capabilities(form.get("claims")),
        # The new spa refresh token keeps the presented one's expiry: using it never extends it.
        refresh_platform=grant.platform,
        refresh_expires=grant.expires if grant.platform == spa.SPA else None,
        refresh_issued=grant.issued if grant.platform == spa.SPA else None,
    )
    return switch.finish(response, emu.issuer, client.registration, grant.sid) if switch else response


# -- client credentials --------------------------------------------------------------------------
def _client_credentials(emu: Emulator, segment: str, form: dict[str, str], client: AuthenticatedClient) -> dict:
    tenant = emu.resolve_tenant(segment)
    if tenant is None:
        raise OAuthError(
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by any provided credentials.",
        )
    emu.check_client_in_tenant(client.registration, tenant.key)
    requests = parse_scopes_by_resource(emu.manifest, form.get("scope"))
    if len(requests) > 1:
        # Client credentials with two resources' .default: Entra answers AADSTS70011, not 28000
        # (a recorded answer in Azure/azure-sdk-for-net issue 9076).
        raise OAuthError(
            "invalid_scope",
            70011,
            "The provided request must include a 'scope' input parameter. The provided value for the input "
            f"parameter 'scope' is not valid. The scope {form.get('scope')} is not valid.",
        )
    request = requests[0]
    if not request.is_default or request.reserved or request.resource is None:
        raise OAuthError(
            "invalid_scope",
            1002012,
            f"The provided value for scope {form.get('scope')} is not valid. Client credential flows must have a "
            "scope value with /.default suffixed to the resource identifier (application ID URI).",
        )
    roles = emu.manifest.granted_app_roles(tenant.key, client.registration, request.resource)
    token, lifetime = emu.issuer.app_access_token(
        client=client.registration,
        resource=request.resource,
        roles=sorted(roles),
        tenant_id=tenant.id,
        azpacr=client.azpacr,
        requested_as=request.prefix,
    )
    return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}


# -- on-behalf-of --------------------------------------------------------------------------------
def _on_behalf_of(emu: Emulator, segment: str, form: dict[str, str], client: AuthenticatedClient) -> dict:
    if form.get("requested_token_use") != "on_behalf_of":
        raise OAuthError("invalid_request", 50034, "The jwt-bearer grant needs requested_token_use=on_behalf_of.")
    assertion = form.get("assertion")
    if not assertion:
        raise OAuthError("invalid_request", 900144, "The request body must contain the following parameter: 'assertion'.")
    api = client.registration
    try:
        claims = jwt.decode(
            assertion,
            _assertion_key(emu, assertion),
            algorithms=["RS256"],
            options={"require": ["exp", "iat", "aud", "iss", "tid"], "verify_aud": False},
            leeway=60,
        )
    except jwt.ExpiredSignatureError:
        raise OAuthError("invalid_grant", 500133, "Assertion is not within its valid time range.") from None
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise OAuthError("invalid_grant", 50013, f"Assertion failed signature validation. ({type(exc).__name__})") from None
    # A v1.0 assertion (an API whose tokens are v1.0) comes from sts.windows.net.
    if claims.get("iss") != emu.issuer.issuer_for_version(str(claims.get("tid")), claims.get("ver")):
        raise OAuthError("invalid_grant", 50013, "Assertion issuer is not valid.")
    own_audiences = {api.client_id, *api.identifier_uris}
    aud = claims.get("aud")
    # A list audience (or any non-string) is refused, and must not reach the set look-up (unhashable).
    if not isinstance(aud, str) or aud not in own_audiences:
        raise OAuthError(
            "invalid_grant",
            50013,
            f"Assertion audience does not match the Client app presenting the assertion. The audience in the "
            f"assertion was '{claims.get('aud')}' and the expected audience is '{api.client_id}'.",
        )
    if "scp" not in claims or claims.get("idtyp") == "app":
        raise OAuthError("invalid_grant", 50013, "Assertion is an app-only token; on-behalf-of needs a user's token.")
    user = _user(emu, str(claims.get("oid")))
    if emu.state.is_revoked(user.oid, claims["iat"]):
        revoked_at = emu.state.revoked_at[user.oid]
        challenge = json.dumps({"access_token": {"nbf": {"essential": True, "value": str(revoked_at)}}})
        raise OAuthError(
            "interaction_required",
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might "
            "have changed or reset their password, or an administrator revoked their sessions.",
            claims=challenge,
        )
    request = parse_scopes(emu.manifest, form.get("scope"))
    tenant_key = user.tenant
    emu.check_client_in_tenant(api, tenant_key)
    granted, response_scope = _delegated_scopes(emu, request, None, api, tenant_key, error="invalid_grant")
    return _user_tokens(
        emu,
        client=client,
        user=user,
        resource=request.resource,
        scopes=granted,
        response_scope=response_scope,
        reserved=request.reserved - {"openid", "profile", "email"},
        sid=str(claims.get("sid", "")),
        auth_time=int(claims["iat"]),
        nonce=None,
        grant_name="on_behalf_of",
        want_client_info=form.get("client_info") == "1",
        capabilities=client_capabilities(form.get("claims")),
    )


def _assertion_key(emu: Emulator, assertion: str):
    header = jwt.get_unverified_header(assertion)
    key = emu.keys.find(str(header.get("kid")))
    if key is None:
        # Not InvalidKeyError: that is no InvalidTokenError, and the caller would answer 500.
        raise jwt.InvalidSignatureError("unknown signing key")
    return key.private_key.public_key()


# -- shared ----------------------------------------------------------------------------------------
def _user(emu: Emulator, oid: str) -> User:
    user = emu.manifest.user(oid)
    if user is None:
        raise OAuthError("invalid_grant", 50034, "The user account does not exist in the directory.")
    return user


def _revoked_grant() -> OAuthError:
    # No suberror: Entra's recorded AADSTS50173 answers carry error, error_codes and the ids only
    # (e.g. Azure/azure-cli issue 16745), and "token_revoked" is no suberror MSAL knows.
    return OAuthError(
        "invalid_grant",
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have "
        "changed or reset their password, or an administrator revoked their sessions.",
    )


def _delegated_scopes(
    emu: Emulator,
    request: ScopeRequest,
    user: User | None,
    client: Registration,
    tenant_key: str,
    *,
    error: str = "invalid_grant",
) -> tuple[list[str], list[str]]:
    """The scopes to grant, and the scope string to answer with; refuses unconsented ones."""
    if request.resource is None:
        return [], []
    consented = emu.consented(user, tenant_key, client, request.resource)
    if request.is_default:
        if not consented:
            raise emu.consent_error(client, {".default"}, request.resource, error=error)
        return sorted(consented), request.qualified([".default"])
    missing = set(request.values) - consented
    if missing:
        raise emu.consent_error(client, missing, request.resource, error=error)
    return sorted(request.values), request.qualified(request.values)


def _requested_acrs(claims_request: str | None) -> list[str] | None:
    """Authentication-context values asked for in a ``claims`` request (Conditional Access)."""
    if not claims_request:
        return None
    try:
        parsed = json.loads(claims_request)
        values = parsed.get("access_token", {}).get("acrs", {})
        found = values.get("values") or ([values["value"]] if "value" in values else [])
        return [str(v) for v in found] or None
    except (ValueError, AttributeError, TypeError):
        return None


def _user_tokens(
    emu: Emulator,
    *,
    client: AuthenticatedClient,
    user: User,
    resource: Registration | None,
    scopes: list[str],
    response_scope: list[str],
    reserved: set[str],
    sid: str,
    auth_time: int,
    nonce: str | None,
    grant_name: str,
    want_client_info: bool,
    acrs: list[str] | None = None,
    capabilities: list[str] | None = None,
    refresh_platform: str = spa.WEB,
    refresh_expires: float | None = None,
    refresh_issued: float | None = None,
) -> dict:
    response: dict = {"token_type": "Bearer", "scope": " ".join([*response_scope, *sorted(reserved)])}
    if resource is not None and scopes:
        token, lifetime = emu.issuer.delegated_access_token(
            user=user,
            client=client.registration,
            resource=resource,
            scopes=scopes,
            azpacr=client.azpacr,
            grant=grant_name,
            acrs=acrs,
            # A v1.0 token names the resource as the client did (the scopes' prefix).
            requested_as=response_scope[0].rpartition("/")[0] if response_scope else "",
            capabilities=capabilities,
        )
        response.update(access_token=token, expires_in=lifetime, ext_expires_in=lifetime)
    if "openid" in reserved:
        response["id_token"] = emu.issuer.id_token(
            user=user, client=client.registration, nonce=nonce, sid=sid, acrs=acrs, grant=grant_name
        )
    if "offline_access" in reserved:
        refresh = RefreshGrant(
            client_id=client.registration.client_id,
            user_oid=user.oid,
            tenant_key=user.tenant,
            sid=sid,
            auth_time=auth_time,
            platform=refresh_platform,
        )
        if refresh_expires is not None:
            refresh.expires = refresh_expires
        if refresh_issued is not None:
            refresh.issued = refresh_issued
        response["refresh_token"] = emu.state.new_refresh_token(refresh)
    if want_client_info:
        tenant = emu.manifest.tenant_by_key(user.tenant)
        response["client_info"] = b64url(json.dumps({"uid": user.oid, "utid": tenant.id}).encode())
    return response

