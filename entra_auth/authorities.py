"""Authority kinds: the URL MSAL talks to, and which issuers its discovery may name.

Three kinds, as Microsoft's libraries tell them apart:

* ``workforce``: ``https://login.microsoftonline.com/<tenant>`` (or the emulator);
  the issuer is ``{host}/{tid}/v2.0``, on the authority's own host.
* ``ciam``: Microsoft Entra External ID, ``https://<sub>.ciamlogin.com/<tenant>``.
  Its issuer is ``https://<tid>.ciamlogin.com/<tid>/v2.0``: a host that is *not*
  the authority's, so it cannot be composed from the configuration. It comes
  from the discovery document, and is accepted only in that exact shape, with
  the same tenant id twice and that tenant allowed. MSAL.NET and MSAL.js had to
  add this very check (AzureAD/microsoft-authentication-library-for-dotnet
  PR 5358 and 5931, ``OidcRetrieverWithCache.ValidateIssuer``;
  microsoft-authentication-library-for-js PR 8570 and 8595,
  ``Authority.validateIssuer``).
* ``oidc``: an External ID custom URL domain, reached by MSAL Python through
  ``oidc_authority`` (discovery at ``{url}/.well-known/openid-configuration``,
  msal/authority.py). Its issuer may be on the custom host itself, or in the
  External ID or workforce shape (MSAL.NET PR 5931: custom domains answering a
  Microsoft issuer); in every case the tenant in it must be allowed.

Never "any https issuer": each kind has its shapes, and a tenant from the allow-list
fills them. Plain Python, no network: ``IssuerRule`` is handed the discovery
document by whoever fetched it.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import UntrustedDiscovery

WORKFORCE, CIAM, OIDC = "workforce", "ciam", "oidc"
KINDS = (WORKFORCE, CIAM, OIDC)
CIAM_DOMAIN = "ciamlogin.com"
# Workforce hosts of Microsoft's clouds (msal/authority.py's WELL_KNOWN_AUTHORITY_HOSTS, without sts.windows.net,
# which is the v1.0 issuer host and never an authority).
WORKFORCE_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "login.microsoftonline.us",
    "login.partner.microsoftonline.cn", "login.chinacloudapi.cn", "login-us.microsoftonline.com",
    "login.usgovcloudapi.net", "login.sovcloud-identity.fr", "login.sovcloud-identity.de",
    "login.sovcloud-identity.sg"})
MULTI_TENANT = frozenset({"organizations", "common"})
TENANT_PLACEHOLDER = "{tenantid}"
GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def is_local_host(host: str) -> bool:
    """Loopback names and addresses: the local emulator, never a production identity provider.

    Only what config.py's emulator rule also calls local (so production refuses it): ``localhost``,
    ``*.localhost`` and loopback IP literals, never a DNS name that merely starts with ``127.``
    (``127.0.0.1.nip.io`` is public DNS)."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def kind_from_host(host: str) -> str | None:
    """The kind an authority host says it is, or None when the host does not tell (a custom domain, the emulator)."""
    host = host.lower()
    if host.endswith("." + CIAM_DOMAIN):
        return CIAM
    if host in WORKFORCE_HOSTS:
        return WORKFORCE
    return None


@dataclass(frozen=True)
class Authority:
    """One configured authority: its URL (no trailing slash) and its kind."""

    url: str
    kind: str

    @classmethod
    def parse(cls, url: str, kind: str | None = None) -> "Authority":
        """``url`` as MSAL would use it; ``kind`` defaults to what the host says (else workforce).

        A path-less External ID authority (``https://contoso.ciamlogin.com/``)
        means the tenant ``contoso.onmicrosoft.com``, as MSAL Python and
        Microsoft.Identity.Web read it.
        """
        parts = urlsplit(url.strip())
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("an authority must be an https:// URL")
        kind = (kind or kind_from_host(parts.hostname) or WORKFORCE).lower()
        if kind not in KINDS:
            raise ValueError(f"the authority kind must be one of {', '.join(KINDS)}")
        path = parts.path.strip("/")
        if not path and parts.hostname.endswith("." + CIAM_DOMAIN):
            path = parts.hostname.split(".", 1)[0] + ".onmicrosoft.com"
        if not path:
            raise ValueError("an authority names its tenant in its path, e.g. https://login.microsoftonline.com/<tenant id>")
        return cls(url=f"https://{parts.netloc}/{path}", kind=kind)

    @property
    def host(self) -> str:
        """``https://host[:port]``."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def hostname(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def tenant(self) -> str:
        """The tenant segment of the path: a GUID, a domain, or organizations/common."""
        return urlsplit(self.url).path.strip("/").split("/", 1)[0]

    @property
    def discovery_url(self) -> str:
        """Where MSAL Python reads this authority's discovery document (msal/authority.py)."""
        if self.kind == OIDC:
            return f"{self.url}/.well-known/openid-configuration"
        return f"{self.url}/v2.0/.well-known/openid-configuration"

    def for_tenant(self, tid: str) -> "Authority":
        """The same authority for one tenant (on-behalf-of and app-only tokens are tenant-specific)."""
        rest = urlsplit(self.url).path.strip("/").split("/", 1)[1:]
        return Authority(url="/".join([self.host, tid, *rest]), kind=self.kind)

    def msal_arguments(self) -> dict[str, str]:
        """How MSAL Python is told: ``oidc_authority`` for a custom domain, ``authority`` otherwise
        (MSAL handles ``*.ciamlogin.com`` natively: no instance discovery, discovery under the tenant)."""
        return {"oidc_authority": self.url} if self.kind == OIDC else {"authority": self.url}

    def issuer_shapes(self) -> list[str]:
        """The v2.0 issuers this kind accepts, ``{tid}`` standing for an allowed tenant (for humans)."""
        workforce = f"{self.host}/{{tid}}/v2.0"
        ciam = f"https://{{tid}}.{CIAM_DOMAIN}/{{tid}}/v2.0"
        if self.kind == WORKFORCE:
            return [workforce]
        local = [f"https://{{tid}}.{_local_ciam_domain(self)}/{{tid}}/v2.0"] if is_local_host(self.hostname) else []
        if self.kind == CIAM:
            return [ciam, *local]
        return [workforce, ciam, "https://login.microsoftonline.com/{tid}/v2.0", *local]


def _local_ciam_domain(authority: Authority) -> str:
    """The local emulator's stand-in for ciamlogin.com: the issuer host is ``<tid>.`` + the authority's
    host (``https://<tid>.localhost:5443/<tid>/v2.0`` for ``https://localhost:5443/<tenant>``; browsers
    resolve ``*.localhost`` to loopback, RFC 6761; the app never fetches the issuer). Production
    refuses a local authority anyway (config.py's emulator rule)."""
    return urlsplit(authority.url).netloc.lower()


def _issuer_tenant(issuer: str, authority: Authority) -> str | None:
    """The tenant id an issuer of ``authority``'s kind names, or None when its shape is not one of the kind's.
    Where a shape names the tenant twice (External ID: host and path), both must be the same tenant."""
    for shape in authority.issuer_shapes():
        before, after, *more = re.escape(shape).split(re.escape("{tid}"))
        pattern = before + f"(?P<tid>{GUID}|\\{{tenantid\\}})" + after + "".join("(?P=tid)" + part for part in more)
        match = re.fullmatch(pattern, issuer)
        if match is not None:
            return match.group("tid").lower()
    return None


def check_discovery_issuer(issuer: object, authority: Authority, allowed_tenants: Collection[str]) -> str:
    """The issuer template (``{tenantid}`` in place of the tenant) when ``issuer`` fits the authority's kind;
    ``UntrustedDiscovery`` otherwise (a tampered or mismatched discovery document names an issuer we must not trust).

    A multi-tenant workforce authority answers the literal template
    ``{host}/{tenantid}/v2.0``; a specific tenant answers its GUID, which must be
    the configured tenant or an allowed one.
    """
    if not isinstance(issuer, str) or not issuer.isascii():
        raise UntrustedDiscovery("discovery issuer does not match the configured authority")
    tenant = _issuer_tenant(issuer, authority)
    allowed = {t.lower() for t in allowed_tenants}
    if tenant == TENANT_PLACEHOLDER:
        ok = authority.kind == WORKFORCE and authority.tenant.lower() in MULTI_TENANT
    else:
        ok = tenant is not None and (tenant in allowed or tenant == authority.tenant.lower())
    if not ok:
        raise UntrustedDiscovery("discovery issuer does not match the configured authority")
    return issuer if tenant == TENANT_PLACEHOLDER else re.sub(re.escape(tenant), TENANT_PLACEHOLDER, issuer,
                                                              flags=re.IGNORECASE)


class IssuerRule:
    """The v2.0 issuer a token of tenant ``tid`` must carry: the discovery document's issuer, once it
    passed the kind's rule, with the tenant in place. Re-checked whenever the document changes."""

    def __init__(self, authority: Authority, allowed_tenants: Collection[str], discovery: Callable[[], dict]):
        self.authority = authority
        self._allowed = frozenset(allowed_tenants)
        self._discovery = discovery
        self._lock = threading.Lock()
        self._checked: tuple[dict, str] | None = None  # (the document checked, its template)

    @property
    def template(self) -> str | None:
        """The template checked last (None before the first check): part of the validator's epoch."""
        return self._checked[1] if self._checked else None

    def check(self) -> str:
        """The current discovery document's issuer template; ``UntrustedDiscovery`` when it does not fit the kind."""
        document = self._discovery()  # cached by its owner; MetadataUnavailable (503) when none is
        checked = self._checked
        if checked is None or checked[0] is not document:
            with self._lock:
                template = check_discovery_issuer(document.get("issuer"), self.authority, self._allowed)
                self._checked = checked = (document, template)
        return checked[1]

    def v2_issuer(self, tid: str) -> str:
        return self.check().replace(TENANT_PLACEHOLDER, tid)
