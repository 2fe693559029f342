"""ID-token validation by the app: MSAL >= 1.38 checks only ``state`` and ``nonce``.

Signature (RS256, the provider's JWKS), issuer, audience, tenant, lifetime and
the claims the app keys on are checked here, with the same strict validator
as the API tier's bearer tokens, but the audience is this web app's client id
and the token must echo the sign-in's nonce. The issuer is the discovery
document's, accepted only when it has the shape of the configured authority's
kind (authorities.py), or a tampered metadata document could name any issuer
we would then trust.
"""

from __future__ import annotations

from collections.abc import Collection

from .authorities import IssuerRule
from .jwks import JwksCache
from .jwt_validation import TokenValidator, ValidatedToken, policy_from_settings


class IdTokenValidator:
    """Validates the ID token of a sign-in (or of a refresh) for this web app."""

    def __init__(
        self,
        *,
        client_id: str,
        authority_host: str,
        allowed_tenants: Collection[str],
        issuers: IssuerRule | None,
        keys: JwksCache,
    ):
        self._validator = TokenValidator(
            policy_from_settings(authority_host, client_id, allowed_tenants, issuers=issuers), keys)

    def validate(self, id_token: str, *, nonce: str | None) -> ValidatedToken:
        """The validated claims; raises ``InvalidToken`` with a short reason.

        ``nonce`` is required for a sign-in's ID token (pass the value sent on
        the wire); an ID token from a refresh carries none (``nonce=None``).
        """
        return self._validator.validate(id_token, nonce=nonce)
