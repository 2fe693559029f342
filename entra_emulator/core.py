"""The emulator's parts wired together: manifest, keys, certificates, state, issuer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .external import KEYS_FOLDER, ExternalHosts, SignUps
from .manifest import Manifest, Registration, Tenant, User
from .pki import CertificateCredential, LocalCA, SigningKeys, certificate_credential
from .protocol import OAuthError
from .state import EmulatorState
from .tokens import TokenIssuer

MULTI_TENANT_SEGMENTS = frozenset({"organizations", "common"})


@dataclass
class Emulator:
    manifest: Manifest
    state_dir: Path
    authority_host: str
    ca: LocalCA
    keys: SigningKeys
    certificates: dict[str, CertificateCredential]
    external_keys: SigningKeys  # what an external tenant's discovery publishes and signs with
    state: EmulatorState = field(default_factory=EmulatorState)
    signups: SignUps = field(default_factory=SignUps)  # customers signing up to an external tenant
    identity_header: str = ""
    issuer: TokenIssuer = field(init=False)
    external: ExternalHosts = field(init=False)

    def __post_init__(self) -> None:
        self.external = ExternalHosts(self.authority_host)
        self.issuer = TokenIssuer(self.manifest, self.keys, self.state, self.authority_host,
                                  external_keys=self.external_keys, external=self.external)

    @classmethod
    def create(
        cls, manifest: Manifest, state_dir: Path, authority_host: str, *, identity_header: str
    ) -> "Emulator":
        ca = LocalCA(state_dir)
        certificates = {}
        for registration in manifest.registrations:
            for cred in registration.credentials:
                if cred.type == "certificate":
                    certificates[cred.name] = certificate_credential(ca, cred.name, expired=cred.expired)
        return cls(
            manifest=manifest,
            state_dir=state_dir,
            authority_host=authority_host.rstrip("/"),
            ca=ca,
            keys=SigningKeys(ca),
            certificates=certificates,
            external_keys=SigningKeys(ca, KEYS_FOLDER),
            identity_header=identity_header,
        )

    # -- tenants ----------------------------------------------------------------------
    def resolve_tenant(self, segment: str) -> Tenant | None:
        """The tenant named by a URL segment; ``None`` for organizations/common."""
        if segment.lower() in MULTI_TENANT_SEGMENTS:
            return None
        tenant = self.manifest.tenant(segment)
        if tenant is None or segment == tenant.key:  # keys are manifest-internal, not URL names
            raise OAuthError(
                "invalid_tenant",
                90002,
                f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing "
                "into the correct cloud.",
            )
        return tenant

    def check_tenant_segment(self, segment: str, request_host: str | None = None) -> Tenant | None:
        """The tenant a URL names (``None`` for organizations/common); with ``request_host``, also
        refused when asked on the other kind's host (an external tenant lives on its own)."""
        if segment.lower() == "consumers":
            raise OAuthError(
                "invalid_request", 9002331, "Application is configured for use by Microsoft Account users only."
            )
        tenant = self.resolve_tenant(segment)
        if request_host is not None and not self.external.serves(
                request_host, external=tenant is not None and tenant.is_external):
            raise OAuthError(
                "invalid_tenant",
                90002,
                f"Tenant '{segment}' not found on this host. An external tenant is served at "
                f"{self.external.authority_url}, a workforce tenant at {self.authority_host}.",
            )
        return tenant

    def authority_base(self, tenant: Tenant | None) -> str:
        """The host URL a tenant's endpoints are served on."""
        return self.external.authority_url if tenant is not None and tenant.is_external else self.authority_host

    def keys_for(self, tenant: Tenant | None) -> SigningKeys:
        return self.external_keys if tenant is not None and tenant.is_external else self.keys

    def endpoint(self, segment: str, path: str) -> str:
        return f"{self.authority_base(self.resolve_tenant(segment))}/{segment}/{path}"

    def check_client_in_tenant(self, client: Registration, tenant_key: str) -> None:
        if not self.manifest.is_provisioned_in(client, tenant_key):
            tenant = self.manifest.tenant_by_key(tenant_key)
            raise OAuthError(
                "unauthorized_client",
                700016,
                f"Application with identifier '{client.client_id}' was not found in the directory "
                f"'{tenant.display_name}'. The application is single-tenant.",
            )

    def user_can_sign_in(self, user: User, segment: str) -> bool:
        tenant = self.resolve_tenant(segment)
        if tenant is None:  # organizations/common: work and school accounts, never an external tenant's customers
            return not self.manifest.tenant_by_key(user.tenant).is_external
        return tenant.key == user.tenant

    # -- consent ------------------------------------------------------------------------
    def consented(self, user: User | None, tenant_key: str, client: Registration, resource: Registration) -> set[str]:
        granted = set(self.manifest.consented_scopes(tenant_key, client, resource))
        if user is not None:
            granted |= self.state.user_consent.get((user.oid, client.key, resource.key), set())
        return granted

    def consent_error(self, client: Registration, missing: set[str], resource: Registration, *, error: str) -> OAuthError:
        return OAuthError(
            error,
            65001,
            f"The user or administrator has not consented to use the application with ID '{client.client_id}' "
            f"named '{client.display_name}'. Send an interactive authorization request for this user and resource. "
            f"Missing: {', '.join(sorted(missing))} on {resource.display_name}.",
            suberror="consent_required",
        )
