"""Validation of Entra-issued JWTs: everything an Entra security review checks.

The signature is verified with ``cryptography`` directly (RS256 only) and the
claims are checked here, rather than through ``jwt.decode``: PyJWT checks
neither ``typ`` nor a strict single audience by default, and most of its cost
is not the signature (see PITFALLS.md). Each refusal raises ``InvalidToken``
with a short, fixed reason that is safe to log and to send in
``error_description``; no part of the token ever goes into it.
"""

from __future__ import annotations

import binascii
import json
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .errors import InvalidToken
from .jwks import JwksCache

MAX_TOKEN_BYTES = 16 * 1024
CLOCK_SKEW_SECONDS = 60
# Three base64url segments; the compact JWS alphabet only (RFC 7515 §7.1).
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}")
# Headers that would let the token name its own key: never honoured, always refused.
_KEY_BEARING_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c"})
_ACCEPTED_TYP = frozenset({"JWT", "at+jwt", "application/at+jwt"})


@dataclass(frozen=True)
class ValidationPolicy:
    """What a token must look like to be accepted."""

    authority_host: str  # e.g. https://login.microsoftonline.com
    audiences: frozenset[str]
    allowed_tenants: frozenset[str]
    accept_v1_issuer: bool = False
    required_claims: tuple[str, ...] = ("iss", "aud", "exp", "iat", "tid", "oid", "sub")
    clock_skew: int = CLOCK_SKEW_SECONDS

    def issuer_for(self, tid: str, version: str) -> str | None:
        if version == "2.0":
            return f"{self.authority_host}/{tid}/v2.0"
        if version == "1.0" and self.accept_v1_issuer:
            return f"https://sts.windows.net/{tid}/"
        return None


@dataclass
class ValidatedToken:
    claims: dict
    header: dict = field(default_factory=dict)

    @property
    def tid(self) -> str:
        return self.claims["tid"]

    @property
    def oid(self) -> str:
        return self.claims["oid"]


def _b64decode(segment: str) -> bytes:
    # binascii's strict mode refuses stray characters that the lenient decoder drops.
    padded = segment.translate(_URLSAFE_TO_STD) + "=" * (-len(segment) % 4)
    return binascii.a2b_base64(padded, strict_mode=True)


_URLSAFE_TO_STD = str.maketrans("-_", "+/")


def parse_compact(token: str) -> tuple[dict, dict, bytes, bytes]:
    """Header, claims, signing input and signature of a compact JWS; refuses anything else."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or not _COMPACT_JWS.fullmatch(token):
        raise InvalidToken("malformed token")
    header_b64, payload_b64, signature_b64 = token.split(".")
    try:
        header = json.loads(_b64decode(header_b64))
        claims = json.loads(_b64decode(payload_b64))
        signature = _b64decode(signature_b64)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: deeply nested JSON inside the size limit.
        raise InvalidToken("malformed token") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("malformed token")
    return header, claims, f"{header_b64}.{payload_b64}".encode("ascii"), signature


class TokenValidator:
    """Validates Entra v2 JWTs against a policy and the provider's signing keys."""

    def __init__(self, policy: ValidationPolicy, keys: JwksCache, *, clock: Callable[[], float] = time.time):
        self.policy = policy
        self.keys = keys
        self._clock = clock

    def validate(self, token: str, *, nonce: str | None = None) -> ValidatedToken:
        header, claims, signing_input, signature = parse_compact(token)
        self._check_header(header)
        key = self.keys.key(header["kid"])
        if key is None:
            raise InvalidToken("unknown signing key")
        try:
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise InvalidToken("bad signature") from None
        self._check_claims(claims)
        if nonce is not None and claims.get("nonce") != nonce:
            raise InvalidToken("nonce mismatch")
        return ValidatedToken(claims=claims, header=header)

    def _check_header(self, header: dict) -> None:
        if header.get("alg") != "RS256":
            raise InvalidToken("algorithm not allowed")
        if _KEY_BEARING_HEADERS & header.keys():
            raise InvalidToken("token names its own key")
        if "crit" in header:
            raise InvalidToken("unsupported critical header")
        if "typ" in header and (not isinstance(header["typ"], str) or header["typ"] not in _ACCEPTED_TYP):
            raise InvalidToken("wrong token type")
        if not isinstance(header.get("kid"), str) or not header["kid"]:
            raise InvalidToken("missing key id")

    def _check_claims(self, claims: dict) -> None:
        policy = self.policy
        for name in policy.required_claims:
            if name not in claims:
                raise InvalidToken(f"missing {name} claim")
        tid = claims["tid"]
        if not isinstance(tid, str) or tid not in policy.allowed_tenants:
            raise InvalidToken("tenant not allowed")
        expected_issuer = policy.issuer_for(tid, str(claims.get("ver", "")))
        if expected_issuer is None or claims["iss"] != expected_issuer:
            raise InvalidToken("wrong issuer")
        aud = claims["aud"]
        # A list (even one containing us) is refused: Entra issues a single audience.
        if not isinstance(aud, str) or aud not in policy.audiences:
            raise InvalidToken("wrong audience")
        now = self._clock()
        skew = policy.clock_skew
        for name in ("exp", "iat", "nbf"):
            if name in claims and (not isinstance(claims[name], int | float) or isinstance(claims[name], bool)):
                raise InvalidToken(f"malformed {name} claim")
        if claims["exp"] <= now - skew:
            raise InvalidToken("token expired")
        if claims.get("nbf", claims["iat"]) > now + skew or claims["iat"] > now + skew:
            raise InvalidToken("token not yet valid")


def policy_from_settings(
    authority_host: str, audiences: Collection[str], allowed_tenants: Collection[str], **kwargs
) -> ValidationPolicy:
    return ValidationPolicy(
        authority_host=authority_host.rstrip("/"),
        audiences=frozenset(audiences),
        allowed_tenants=frozenset(allowed_tenants),
        **kwargs,
    )
