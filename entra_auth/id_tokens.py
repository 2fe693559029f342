"""ID-token validation by the app: MSAL >= 1.38 checks only ``state`` and ``nonce``.

Signature (RS256, the provider's JWKS), issuer, audience, tenant, lifetime and
the claims the app keys on are checked here, with the same strict validator
as the API tier's bearer tokens, but the audience is this web app's client id
and the token must echo the sign-in's nonce. The discovery document itself is
checked once: its ``issuer`` must belong to the configured authority, or a
tampered metadata document could name any issuer we would then trust.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from .errors import InvalidToken
from .jwks import JwksCache
from .jwt_validation import TokenValidator, ValidatedToken, policy_from_settings
from .metadata import OidcMetadata

_MULTI_TENANT = frozenset({"organizations", "common"})
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def discovery_issuer_ok(issuer: str, authority_host: str, tenant: str, allowed_tenants: Collection[str]) -> bool:
    """Whether a discovery document's ``issuer`` fits the configured authority.

    Entra answers ``{host}/{tenantid}/v2.0`` (a literal template) for
    ``organizations``/``common``, and the tenant's GUID for a specific tenant
    (also when it was named by domain).
    """
    host = re.escape(authority_host.rstrip("/"))
    if tenant.lower() in _MULTI_TENANT:
        return issuer == f"{authority_host.rstrip('/')}/{{tenantid}}/v2.0"
    match = re.fullmatch(rf"{host}/({_GUID})/v2\.0", issuer)
    if match is None:
        return False
    return match.group(1).lower() == tenant.lower() or match.group(1) in allowed_tenants


class IdTokenValidator:
    """Validates the ID token of a sign-in (or of a refresh) for this web app."""

    def __init__(
        self,
        *,
        client_id: str,
        authority_host: str,
        tenant: str,
        allowed_tenants: Collection[str],
        metadata: OidcMetadata,
        keys: JwksCache,
    ):
        self._metadata = metadata
        self._authority_host = authority_host.rstrip("/")
        self._tenant = tenant
        self._allowed = frozenset(allowed_tenants)
        self._validator = TokenValidator(policy_from_settings(authority_host, client_id, allowed_tenants), keys)
        self._issuer_checked = False

    def validate(self, id_token: str, *, nonce: str | None) -> ValidatedToken:
        """The validated claims; raises ``InvalidToken`` with a short reason.

        ``nonce`` is required for a sign-in's ID token (pass the value sent on
        the wire); an ID token from a refresh carries none (``nonce=None``).
        """
        if not self._issuer_checked:
            issuer = str(self._metadata.get().get("issuer", ""))
            if not discovery_issuer_ok(issuer, self._authority_host, self._tenant, self._allowed):
                raise InvalidToken("discovery issuer does not match the configured authority")
            self._issuer_checked = True
        return self._validator.validate(id_token, nonce=nonce)
