"""An external (customer, CIAM) tenant's own pages: its discovery document, and later its sign-up."""

from __future__ import annotations

from .core import Emulator
from .manifest import Tenant, User


def external_discovery(emu: Emulator, segment: str, tenant: Tenant) -> dict:
    """An External ID tenant's OpenID configuration.

    Fetched at the authority (``https://<sub>.ciamlogin.com/<tenant>/v2.0/...`` in Entra; the
    emulator's external host here), it names an issuer on another host,
    ``https://<tid>.ciamlogin.com/<tid>/v2.0`` (security-tokens.md, "Token endpoints and issuers"),
    and a ``jwks_uri`` whose keys are not the workforce ones. The endpoints are on the authority's
    host, the one MSAL resolves (the issuer's host does not resolve on loopback).
    """
    base = f"{emu.external.authority_url}/{segment}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": emu.issuer.issuer(tenant.id),
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{emu.external.authority_url}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
            "ver", "at_hash", "c_hash", "email",
        ],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "entra-emulator.invalid",
        "msgraph_host": "graph.microsoft.com",
    }


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
