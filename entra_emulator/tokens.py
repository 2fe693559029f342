"""Minting Entra v2-shaped tokens, and the faults a test can ask them to carry."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .manifest import Manifest, ManagedIdentity, Registration, User
from .pki import SigningKeys, b64url
from .state import EmulatorState

STRANGER_AUDIENCE = "99999999-9999-4999-8999-999999999999"
WRONG_ISSUER_HOST = "https://login.evil.example"


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

    def issuer(self, tenant_id: str) -> str:
        return f"{self.authority_host}/{tenant_id}/v2.0"

    def roles_for(self, user: User, app: Registration) -> list[str]:
        assigned = self.state.role_overrides.get(user.oid, user.roles)
        return sorted(set(assigned) & app.role_values("User"))

    # -- token shapes ---------------------------------------------------------------
    def _base(self, tenant_id: str, lifetime: int, oid: str | None = None) -> dict:
        now = int(time.time())
        if oid:
            now = self.state.not_before_revocation(oid, now)
        return {
            "iss": self.issuer(tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "tid": tenant_id,
            "uti": secrets.token_urlsafe(16),
            "ver": "2.0",
            "aio": secrets.token_urlsafe(24),
            "rh": "0.emulator." + secrets.token_urlsafe(8),
        }

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
            login_hint=b64url(f"{user.oid}@{tenant.id}".encode()),
        )
        if nonce:
            claims["nonce"] = nonce
        if auth_time:
            claims["auth_time"] = auth_time
        roles = self.roles_for(user, client)
        if roles:
            claims["roles"] = roles
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
        sid: str,
        azpacr: str,
        grant: str,
        acrs: list[str] | None = None,
    ) -> tuple[str, int]:
        tenant = self.manifest.tenant_by_key(user.tenant)
        lifetime = self.state.settings["access_token_lifetime"]
        claims = self._base(tenant.id, lifetime, user.oid)
        claims.update(
            aud=resource.client_id,
            azp=client.client_id,
            azpacr=azpacr,
            oid=user.oid,
            sub=pairwise_sub(user.oid, resource.client_id),
            sid=sid,
            name=user.name,
            preferred_username=user.username,
            scp=" ".join(sorted(scopes)),
        )
        roles = self.roles_for(user, resource)
        if roles:
            claims["roles"] = roles
        if acrs:
            claims["acrs"] = acrs
        return self._sign(claims, "access_token", client.client_id, grant=grant), lifetime

    def app_access_token(
        self, *, client: Registration, resource: Registration, roles: list[str], tenant_id: str, azpacr: str
    ) -> tuple[str, int]:
        lifetime = self.state.settings["access_token_lifetime"]
        claims = self._base(tenant_id, lifetime)
        sp_oid = service_principal_oid(tenant_id, client.client_id)
        claims.update(
            aud=resource.client_id,
            azp=client.client_id,
            azpacr=azpacr,
            oid=sp_oid,
            sub=sp_oid,
            idtyp="app",
        )
        if roles:
            claims["roles"] = sorted(roles)
        return self._sign(claims, "access_token", client.client_id, grant="client_credentials"), lifetime

    def managed_identity_token(self, mi: ManagedIdentity, resource: str) -> tuple[str, int]:
        """What the managed-identity endpoint hands out (e.g. for api://AzureADTokenExchange)."""
        tenant = self.manifest.tenant_by_key(mi.tenant)
        lifetime = 24 * 3600  # Entra's managed-identity tokens live about a day.
        claims = self._base(tenant.id, lifetime)
        claims.update(
            aud=resource,
            azp=mi.client_id,
            azpacr="2",
            oid=mi.principal_id,
            sub=mi.principal_id,
            idtyp="app",
            xms_mirid=f"/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/dev/providers/"
            f"Microsoft.ManagedIdentity/userAssignedIdentities/{mi.key}",
        )
        return self._sign(claims, "access_token", mi.client_id, grant="managed_identity"), lifetime

    # -- signing, with faults ---------------------------------------------------------
    def _sign(self, claims: dict, token_type: str, client_id: str, *, grant: str) -> str:
        fault = self.state.take_token_fault(token_type, client_id, grant)
        key = self.keys.active
        headers = {"typ": "JWT", "kid": key.kid, "x5t": key.x5t}
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
        if fault in ("bad_signature", "unknown_kid"):
            if fault == "unknown_kid":
                headers["kid"] = headers["x5t"] = b64url(secrets.token_bytes(20))
            return jwt.encode(claims, self._rogue_key, algorithm="RS256", headers=headers)
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)

    def _apply_claim_fault(self, fault: str, claims: dict, headers: dict) -> tuple[dict, dict]:
        claims = dict(claims)
        now = int(time.time())
        foreign = next((t for t in self.manifest.tenants if t.id != claims.get("tid")), None)
        if fault == "wrong_iss":
            claims["iss"] = f"{WRONG_ISSUER_HOST}/{claims['tid']}/v2.0"
        elif fault == "wrong_aud":
            claims["aud"] = STRANGER_AUDIENCE
        elif fault == "aud_list_stranger":
            claims["aud"] = [claims["aud"], STRANGER_AUDIENCE]
        elif fault == "wrong_nonce":
            claims["nonce"] = secrets.token_urlsafe(16)
        elif fault == "foreign_tid" and foreign:
            claims["tid"], claims["iss"] = foreign.id, self.issuer(foreign.id)
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


def verify_own_token(issuer: TokenIssuer, token: str, *, audience: str | list[str]) -> dict:
    """Verify a token this emulator issued (signature, issuer, audience, lifetime).

    Raises ``jwt.InvalidTokenError`` (or ValueError for garbage).
    """
    header, unverified = unverified_parts(token)
    if header.get("alg") != "RS256":
        raise jwt.InvalidAlgorithmError("only RS256 is accepted")
    key = issuer.keys.find(str(header.get("kid")))
    if key is None:
        # Not InvalidKeyError: that is no InvalidTokenError, and callers would answer 500.
        raise jwt.InvalidSignatureError("signing key not found")
    tid = str(unverified.get("tid", ""))
    return jwt.decode(
        token,
        key.private_key.public_key(),
        algorithms=["RS256"],
        audience=audience,
        issuer=issuer.issuer(tid),
        leeway=60,
        options={"require": ["exp", "iat", "nbf", "aud", "iss", "tid"], "strict_aud": isinstance(audience, str)},
    )
