"""Where an External ID (customer, CIAM) tenant is served, and whom its tokens name as issuer.

Entra serves an external tenant on its own host and issues its tokens under yet another one
(learn.microsoft.com/entra/identity-platform/security-tokens, "Token endpoints and issuers"):

    authority   https://<subdomain>.ciamlogin.com/<tenant id or <subdomain>.onmicrosoft.com>
    issuer      https://<tenant id>.ciamlogin.com/<tenant id>/v2.0

The emulator keeps that shape on loopback. The authority must be fetched by MSAL Python, whose
resolver knows ``localhost`` but not ``*.localhost``; the issuer host is never fetched. So:

    workforce   https://127.0.0.1:<port>/<tenant>                (as before)
    authority   https://localhost:<port>/<tenant id or domain>   (an external tenant only)
    issuer      https://<tenant id>.localhost:<port>/<tenant id>/v2.0

The issuer's host is ``<tenant id>.`` + the authority's host, which is also the one relation
MSAL Python (1.39, ``Authority.has_valid_issuer``, case 3b) accepts for an ``oidc_authority``
whose discovery names a different issuer host.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

EXTERNAL_AUTHORITY_HOST = "localhost"
KEYS_FOLDER = "signing-keys-external"  # the external tenants' own keys, apart from the workforce ones


@dataclass(frozen=True)
class ExternalHosts:
    """The external tenants' authority and issuer URLs for an emulator at ``workforce_url``."""

    workforce_url: str

    @property
    def _port(self) -> int | None:
        return urlsplit(self.workforce_url).port

    @property
    def workforce_host(self) -> str:
        return (urlsplit(self.workforce_url).hostname or "").lower()

    @property
    def authority_host(self) -> str:
        return EXTERNAL_AUTHORITY_HOST

    def _url(self, host: str) -> str:
        return f"https://{host}:{self._port}" if self._port else f"https://{host}"

    @property
    def authority_url(self) -> str:
        """The external tenants' authority base URL, e.g. ``https://localhost:5443``."""
        return self._url(self.authority_host)

    def issuer(self, tenant_id: str) -> str:
        """``https://<tenant id>.localhost:<port>/<tenant id>/v2.0``."""
        return f"{self._url(f'{tenant_id}.{self.authority_host}')}/{tenant_id}/v2.0"

    def serves(self, request_host: str, *, external: bool) -> bool:
        """Whether a request to ``request_host`` (Host header, port included) may reach a tenant of
        that kind: an external tenant only on its authority host, a workforce tenant (or
        organizations/common) only on the workforce host, as Entra keeps them apart."""
        host = request_host.rsplit(":", 1)[0].strip("[]").lower() if request_host else ""
        if self.authority_host == self.workforce_host:  # started as --host localhost: one host for both
            return host == self.authority_host
        return host == (self.authority_host if external else self.workforce_host)
