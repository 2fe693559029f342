"""The OpenID configuration a tenant's discovery answers: one shape for both kinds of tenant.

A workforce tenant's document adds what only login.microsoftonline.com publishes (Kerberos,
Azure AD Graph, RBAC hosts, the cloud claims); an External ID tenant's omits them
(docs/emulator-fidelity.md).
"""

from __future__ import annotations

from typing import Any

_CLAIMS = ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
           "ver", "at_hash", "c_hash", "email"]
_CLOUD_CLAIMS = ["cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host"]


def openid_configuration(authority_host: str, segment: str, issuer: str, *, workforce: bool) -> dict[str, Any]:
    """The document for ``{authority_host}/{segment}``, naming ``issuer`` (which may be on another host)."""
    base = f"{authority_host}/{segment}"
    document: dict[str, Any] = {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{authority_host}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": [*_CLAIMS[:2], *_CLOUD_CLAIMS, *_CLAIMS[2:]] if workforce else list(_CLAIMS),
        "tenant_region_scope": "EU",
        "cloud_instance_name": "entra-emulator.invalid",
        "msgraph_host": "graph.microsoft.com",
    }
    if workforce:
        document.update({
            "kerberos_endpoint": f"{base}/kerberos",
            "cloud_graph_host_name": "graph.windows.net",
            "rbac_url": "https://pas.windows.net",
        })
    return document
