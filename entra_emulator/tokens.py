"""Minting Entra-shaped tokens (v2.0 and v1.0, Graph's own), and the faults a test can ask them to carry.

The shapes follow Microsoft's access token reference
(learn.microsoft.com/entra/identity-platform/access-token-claims-reference): a v2.0
token names its API by client id and its client in ``azp``/``azpacr``; a v1.0 token is
issued by ``https://sts.windows.net/{tid}/``, names its API as the client asked for it,
its client in ``appid``/``appidacr``, and its header carries the legacy ``x5t`` beside
``kid``. Tokens for Microsoft Graph are v1.0 and carry a header ``nonce`` that only
Graph can verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .manifest import TOKEN_EXCHANGE_APP_ID, TOKEN_EXCHANGE_AUDIENCE, Manifest, ManagedIdentity, Registration, User
from .groups import GroupDirectory
from .pki import SigningKeys, b64url
from .state import EmulatorState

STRANGER_AUDIENCE = "99999999-9999-4999-8999-999999999999"
WRONG_ISSUER_HOST = "https://login.evil.example"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
V1_ISSUER_HOST = "https://sts.windows.net"  # Entra's v1.0 issuer, the same in every cloud host's tokens
# Entra's default access-token lifetime is random per token: 60-90 minutes; a CAE token
# (client declared cp1, resource implements CAE) lives 20-28 hours (access-tokens.md#token-lifetime).
DEFAULT_LIFETIME = (60 * 60, 90 * 60)
CAE_LIFETIME = (20 * 3600, 28 * 3600)
KNOWN_CAPABILITIES = frozenset({"cp1"})  # claims-challenge.md: "The only currently known value is cp1"
MANAGED_IDENTITY_LIFETIME = 24 * 3600  # Entra's managed-identity tokens live about a day


def client_capabilities(claims_request: str | None) -> list[str]:
    """The known client capabilities a ``claims`` request declares (``access_token.xms_cc.values``)."""
    if not claims_request:
        return []
    try:
        values = json.loads(claims_request)["access_token"]["xms_cc"]["values"]
    except (ValueError, KeyError, TypeError):
        return []
    if not isinstance(values, list):
        return []
    return sorted({v.lower() for v in values if isinstance(v, str)} & KNOWN_CAPABILITIES)


def graph_signing_header(header: dict) -> dict:
    """The header Graph's signature covers: the ``nonce`` replaced by base64url(SHA-256(nonce)).

    Entra signs Graph's tokens over the hashed nonce and hands out the plain one, so
    a generic validator fails on them; only Graph (which hashes it back) can verify.
    """
    if "nonce" not in header:
        return header
    hashed = b64url(hashlib.sha256(str(header["nonce"]).encode()).digest())
    return {k: (hashed if k == "nonce" else v) for k, v in header.items()}


def pairwise_sub(oid: str, app_id: str) -> str:
    """Entra's ``sub`` is pairwise: the same user has a different ``sub`` per app."""
    return b64url(hashlib.sha256(f"{oid}:{app_id}".encode()).digest())


def service_principal_oid(tenant_id: str, client_id: str) -> str:
    """The object id of an app's service principal in a tenant (stable per pair)."""
    return str(uuid.uuid5(uuid.UUID(tenant_id), client_id))


class TokenIssuer:
    def __init__(self, manifest: Manifest, keys: SigningKeys, state: EmulatorState, authority_host: str):
        self.manifest = manifest
        self.keys = keys
        self.state = state
        self.authority_host = authority_host.rstrip("/")
        # A key nobody publishes: tokens signed with it must fail verification.
        self._rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._login_hint_key = secrets.token_bytes(32)
        self.groups = GroupDirectory(manifest, state)

    def issuer(self, tenant_id: str) -> str:
        return f"{self.authority_host}/{tenant_id}/v2.0"

    def issuer_for_version(self, tenant_id: str, version: object) -> str | None:
        """The issuer a token of this ``ver`` must carry; ``None`` for an unknown version."""
        if version == "2.0":
            return self.issuer(tenant_id)
        if version == "1.0":
            return f"{V1_ISSUER_HOST}/{tenant_id}/"
        return None

    def token_version(self, resource: Registration) -> int:
        """The access-token version the resource asks for (manifest, or a test's runtime switch)."""
        return self.state.token_versions.get(resource.key, resource.access_token_version)

    def optional_claims(self, resource: Registration) -> list[str]:
        """The access-token optional claims the resource asks for (manifest, or a test's runtime switch)."""
        return self.state.optional_claims.get(resource.key, resource.optional_claims)

    def _access_token_lifetime(self, *, cae: bool) -> int:
        forced = self.state.settings.get("access_token_lifetime")
        if forced:  # a test pinned it (e.g. short, so that every page refreshes)
            return int(forced)
        low, high = CAE_LIFETIME if cae else DEFAULT_LIFETIME
        return low + secrets.randbelow(high - low + 1)

    def login_hint(self, user: User) -> str:
        """The ID token's ``login_hint``: opaque and base64 (optional-claims reference), usable
        only as the ``login_hint``/``logout_hint`` parameter, so no app can read oid or tenant from it."""
        mac = hmac.new(self._login_hint_key, f"{user.oid}:{user.tenant}".encode(), hashlib.sha256).digest()
        return "O." + b64url(mac)

    def user_for_login_hint(self, hint: str) -> User | None:
        """The user an opaque login hint names (``None`` for anything else, e.g. a username)."""
        if not hint.startswith("O."):
            return None
        return next((u for u in self.manifest.users if hmac.compare_digest(self.login_hint(u), hint)), None)

    def roles_for(self, user: User, app: Registration) -> list[str]:
        assigned = self.state.role_overrides.get(user.oid, user.roles)
        return sorted(set(assigned) & app.role_values("User"))

    # -- token shapes ---------------------------------------------------------------
    def _base(self, tenant_id: str, lifetime: int, oid: str | None = None, *, version: int = 2) -> dict:
        now = int(time.time())
        if oid:
            now = self.state.not_before_revocation(oid, now)
        ver = f"{version}.0"
        return {
            "iss": self.issuer_for_version(tenant_id, ver),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "tid": tenant_id,
            "uti": secrets.token_urlsafe(16),
            "ver": ver,
            "aio": secrets.token_urlsafe(24),
            "rh": "0.emulator." + secrets.token_urlsafe(8),
        }

    @staticmethod
    def _audience(resource: Registration, version: int, requested_as: str) -> str:
        """v2.0: always the API's client id. v1.0: the resource as the client named it
        (App ID URI or client id); a bare scope names the default resource by client id."""
        if version == 1 and requested_as:
            return requested_as
        return resource.client_id

    def id_token(
        self,
        *,
        user: User,
        client: Registration,
        nonce: str | None,
        sid: str,
        auth_time: int | None = None,
        acrs: list[str] | None = None,
        grant: str = "authorization_code",
    ) -> str:
        tenant = self.manifest.tenant_by_key(user.tenant)
        claims = self._base(tenant.id, self.state.settings["id_token_lifetime"], user.oid)
        claims.update(
            aud=client.client_id,
            oid=user.oid,
            sub=pairwise_sub(user.oid, client.client_id),
            sid=sid,
            name=user.name,
            preferred_username=user.username,
            login_hint=self.login_hint(user),
        )
        if nonce:
            claims["nonce"] = nonce
        if auth_time:
            claims["auth_time"] = auth_time
        roles = self.roles_for(user, client)
        if roles:
            claims["roles"] = roles
        # The client's groupMembershipClaims decides its ID tokens' groups (or overage marker).
        claims.update(self.groups.token_claims(user, client, tenant.id))
        if acrs:
            claims["acrs"] = acrs
        return self._sign(claims, "id_token", client.client_id, grant=grant)

    def delegated_access_token(
        self,
        *,
        user: User,
        client: Registration,
        resource: Registration,
        scopes: list[str],
        azpacr: str,
        grant: str,
        acrs: list[str] | None = None,
        requested_as: str = "",
        capabilities: list[str] | None = None,
    ) -> tuple[str, int]:
        tenant = self.manifest.tenant_by_key(user.tenant)
        version = self.token_version(resource)
        capabilities = capabilities or []
        # CAE needs both sides: a client declaring cp1 and a resource implementing CAE.
        lifetime = self._access_token_lifetime(cae="cp1" in capabilities and resource.continuous_access_evaluation)
        claims = self._base(tenant.id, lifetime, user.oid, version=version)
        claims.update(aud=self._audience(resource, version, requested_as), oid=user.oid,
                      sub=pairwise_sub(user.oid, resource.client_id), name=user.name)
        # No ``sid``: the access token reference lists none (it is an ID-token claim).
        if version == 2:
            claims.update(azp=client.client_id, azpacr=azpacr, preferred_username=user.username)
        else:
            claims.update(
                appid=client.client_id,
                appidacr=azpacr,
                acr="1",
                amr=["pwd"],
                unique_name=user.username,
                upn=user.username,
                **({"given_name": user.given_name} if user.given_name else {}),
                **({"family_name": user.surname} if user.surname else {}),
            )
        claims["scp"] = " ".join(sorted(scopes))
        roles = self.roles_for(user, resource)
        if roles:
            claims["roles"] = roles
        # The resource's groupMembershipClaims decides the access token's groups, in v1.0 and v2.0 alike.
        claims.update(self.groups.token_claims(user, resource, tenant.id))
        if acrs:
            claims["acrs"] = acrs
        if capabilities and "xms_cc" in self.optional_claims(resource):
            claims["xms_cc"] = capabilities
        token = self._sign(claims, "access_token", client.client_id, grant=grant,
                           graph_nonce=resource.client_id == GRAPH_APP_ID)
        return token, lifetime

    def app_access_token(
        self, *, client: Registration, resource: Registration, roles: list[str], tenant_id: str, azpacr: str,
        requested_as: str = "",
    ) -> tuple[str, int]:
        version = self.token_version(resource)
        lifetime = self._access_token_lifetime(cae=False)
        sp_oid = service_principal_oid(tenant_id, client.client_id)
        claims = self._app_claims(
            tenant_id, lifetime, version=version, aud=self._audience(resource, version, requested_as),
            client_id=client.client_id, client_auth=azpacr, principal_id=sp_oid,
            idtyp="idtyp" in self.optional_claims(resource),
        )
        if roles:
            claims["roles"] = sorted(roles)
        token = self._sign(claims, "access_token", client.client_id, grant="client_credentials",
                           graph_nonce=resource.client_id == GRAPH_APP_ID)
        return token, lifetime

    def managed_identity_token(self, mi: ManagedIdentity, resource: str) -> tuple[str, int]:
        """What the managed-identity endpoint hands out (e.g. for api://AzureADTokenExchange).

        The token-exchange resource gets a v2.0 token with its app id as ``aud``, as Entra
        issues it; a registration of the manifest gets its own version; any other (Azure)
        resource a v1.0 token naming it as asked.
        """
        tenant = self.manifest.tenant_by_key(mi.tenant)
        registration = self.manifest.resource_for(resource)
        graph_nonce = False
        idtyp = True  # as observed in the token exchange's tokens
        if resource.rstrip("/") in (TOKEN_EXCHANGE_AUDIENCE, TOKEN_EXCHANGE_APP_ID):
            version, aud = 2, TOKEN_EXCHANGE_APP_ID
        elif registration is not None:
            version = self.token_version(registration)
            aud = self._audience(registration, version, resource)
            graph_nonce = registration.client_id == GRAPH_APP_ID
            idtyp = "idtyp" in self.optional_claims(registration)
        else:
            version, aud = 1, resource
        claims = self._app_claims(
            tenant.id, MANAGED_IDENTITY_LIFETIME, version=version, aud=aud, client_id=mi.client_id,
            client_auth="2", principal_id=mi.principal_id, idtyp=idtyp,
        )
        claims["xms_mirid"] = (f"/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/dev/providers/"
                               f"Microsoft.ManagedIdentity/userAssignedIdentities/{mi.key}")
        token = self._sign(claims, "access_token", mi.client_id, grant="managed_identity", graph_nonce=graph_nonce)
        return token, MANAGED_IDENTITY_LIFETIME

    def _app_claims(self, tenant_id: str, lifetime: int, *, version: int, aud: str, client_id: str,
                    client_auth: str, principal_id: str, idtyp: bool) -> dict:
        """An app-only token: the client's service principal is both ``oid`` and ``sub``.

        ``idtyp: app`` only when the resource asks for it: an optional claim the resource's
        registration must request (Microsoft's optional claims reference), which the Orders
        API's does not, so the app must tell app-only tokens apart without it.
        """
        claims = self._base(tenant_id, lifetime, version=version)
        claims.update(aud=aud, oid=principal_id, sub=principal_id)
        if idtyp:
            claims["idtyp"] = "app"
        if version == 2:
            claims.update(azp=client_id, azpacr=client_auth)
        else:
            claims.update(appid=client_id, appidacr=client_auth, idp=claims["iss"])
        return claims

    # -- signing, with faults ---------------------------------------------------------
    def _sign(self, claims: dict, token_type: str, client_id: str, *, grant: str, graph_nonce: bool = False) -> str:
        fault = self.state.take_token_fault(token_type, client_id, grant)
        key = self.keys.active
        # Header order as Entra writes it. v2.0 carries kid only; v1.0 also the legacy x5t
        # (access-token-claims-reference, id-token-claims-reference: "x5t ... only in v1.0").
        headers: dict = {"typ": "JWT"}
        if graph_nonce:
            headers["nonce"] = secrets.token_urlsafe(48)
        headers["alg"] = "RS256"
        if claims.get("ver") == "1.0":
            headers["x5t"] = key.x5t
        headers["kid"] = key.kid
        if fault:
            claims, headers = self._apply_claim_fault(fault, claims, headers)
        with self.state.lock:
            self.state.issued_by_uti[claims.get("uti", "")] = {
                "token_type": token_type,
                "grant": grant,
                "fault": fault,
                "aud": claims.get("aud"),
                "oid": claims.get("oid"),
            }
        if fault == "unsigned":
            return _encode_unsigned(claims)
        if fault == "hs256_public_key":
            public_pem = key.private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return _encode_hs256(claims, public_pem, headers)
        signer = key.private_key
        if fault in ("bad_signature", "unknown_kid"):
            if fault == "unknown_kid":
                fake = b64url(secrets.token_bytes(20))
                headers = {k: (fake if k in ("kid", "x5t") else v) for k, v in headers.items()}
            signer = self._rogue_key
        return _encode_rs256(claims, headers, signer)

    def _apply_claim_fault(self, fault: str, claims: dict, headers: dict) -> tuple[dict, dict]:
        claims = dict(claims)
        now = int(time.time())
        foreign = next((t for t in self.manifest.tenants if t.id != claims.get("tid")), None)
        if fault == "wrong_iss":
            claims["iss"] = f"{WRONG_ISSUER_HOST}/{claims['tid']}/" + ("v2.0" if claims.get("ver") == "2.0" else "")
        elif fault == "wrong_aud":
            claims["aud"] = STRANGER_AUDIENCE
        elif fault == "aud_list_stranger":
            claims["aud"] = [claims["aud"], STRANGER_AUDIENCE]
        elif fault == "wrong_nonce":
            claims["nonce"] = secrets.token_urlsafe(16)
        elif fault == "foreign_tid" and foreign:
            claims["tid"], claims["iss"] = foreign.id, self.issuer_for_version(foreign.id, claims.get("ver"))
        elif fault == "tid_iss_mismatch" and foreign:
            claims["tid"] = foreign.id
        elif fault == "expired":
            claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
        elif fault == "not_yet_valid":
            claims.update(iat=now + 3600, nbf=now + 3600, exp=now + 7200)
        elif fault.startswith("missing_"):
            claims.pop(fault.removeprefix("missing_"), None)
        return claims, headers


def _segment(data: dict) -> str:
    return b64url(json.dumps(data, separators=(",", ":")).encode())


def _encode_rs256(claims: dict, headers: dict, private_key: rsa.RSAPrivateKey) -> str:
    """A compact RS256 JWS with the header exactly as given (Graph's covers the hashed nonce)."""
    header_b64 = _segment(headers)
    signing_input = f"{_segment(graph_signing_header(headers))}.{_segment(claims)}"
    signature = private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{header_b64}.{signing_input.partition('.')[2]}.{b64url(signature)}"


def _encode_unsigned(claims: dict) -> str:
    return f"{_segment({'typ': 'JWT', 'alg': 'none'})}.{_segment(claims)}."


def _encode_hs256(claims: dict, secret: bytes, headers: dict) -> str:
    """The algorithm-confusion forgery: HMAC keyed with the RSA public key.

    PyJWT refuses to use a PEM public key as an HMAC secret, which is exactly
    why a forger computes the HMAC by hand.
    """
    import hmac

    header = {**headers, "alg": "HS256"}
    signing_input = f"{_segment(header)}.{_segment(claims)}".encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{b64url(signature)}"


def unverified_parts(token: str) -> tuple[dict, dict]:
    """Header and claims of a JWT, unverified; raises ValueError when it is not one."""
    try:
        header_b64, payload_b64, _ = token.split(".")
        header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
        claims = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    except (ValueError, TypeError) as exc:
        raise ValueError("not a JWT") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("not a JWT")
    return header, claims


def verify_own_token(issuer: TokenIssuer, token: str, *, audience: str | list[str], graph: bool = False) -> dict:
    """Verify a token this emulator issued (signature, issuer for its version, audience, lifetime).

    ``graph``: verify as Microsoft Graph does, over the hashed header nonce; nobody else
    can verify such a token. Raises ``jwt.InvalidTokenError`` (or ValueError for garbage).
    """
    header, unverified = unverified_parts(token)
    if header.get("alg") != "RS256":
        raise jwt.InvalidAlgorithmError("only RS256 is accepted")
    key = issuer.keys.find(str(header.get("kid")))
    if key is None:
        # Not InvalidKeyError: that is no InvalidTokenError, and callers would answer 500.
        raise jwt.InvalidSignatureError("signing key not found")
    if graph and "nonce" in header:
        _, payload_b64, signature_b64 = token.split(".")
        token = f"{_segment(graph_signing_header(header))}.{payload_b64}.{signature_b64}"
    tid = str(unverified.get("tid", ""))
    expected_issuer = issuer.issuer_for_version(tid, unverified.get("ver"))
    if expected_issuer is None:
        raise jwt.InvalidIssuerError("unknown token version")
    return jwt.decode(
        token,
        key.private_key.public_key(),
        algorithms=["RS256"],
        audience=audience,
        issuer=expected_issuer,
        leeway=60,
        options={"require": ["exp", "iat", "nbf", "aud", "iss", "tid"], "strict_aud": isinstance(audience, str)},
    )
