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
import math
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .authorities import IssuerRule
from .errors import InvalidToken
from .jwks import JwksCache

MAX_TOKEN_BYTES = 16 * 1024
CLOCK_SKEW_SECONDS = 60
# Headers that would let the token name its own key: never honoured, always refused.
_KEY_BEARING_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c"})
_ACCEPTED_TYP = frozenset({"JWT", "at+jwt", "application/at+jwt"})


V1_ISSUER = "https://sts.windows.net/{tid}/"
# The calling client in an access token, per version (Microsoft's access-token claims reference).
_CLIENT_CLAIM = {"2.0": "azp", "1.0": "appid"}


@dataclass(frozen=True)
class ValidationPolicy:
    """What a token must look like to be accepted.

    Audiences depend on the token's version, as Entra issues them (Microsoft's
    access-token reference; Microsoft.Identity.Web's ``RegisterValidAudience``
    does the same): a v2.0 token's ``aud`` is always the resource's client id
    GUID; a v1.0 token's is what the client asked for, the App ID URI
    (``api://<id>``, or a custom one) or the client id. So ``client_id`` is
    accepted for both, ``app_id_uris`` only for v1.0 tokens, and v1.0 tokens
    only when ``accept_v1`` is set.
    """

    authority_host: str  # e.g. https://login.microsoftonline.com
    client_id: str  # the resource's own registration (the API's, or the web app's for ID tokens)
    allowed_tenants: frozenset[str]
    app_id_uris: frozenset[str] = frozenset()
    accept_v1: bool = False
    # An access token names the client it was issued to (v2.0 `azp`, v1.0 `appid`); an ID token does
    # not. Required for bearer tokens: an ID token is refused even when the web app and the API share
    # one registration (then its `aud`, issuer and signature would all pass).
    access_token: bool = False
    # The v2.0 issuer from the authority's discovery document, checked against its kind's rule
    # (authorities.py): External ID's issuer is on another host than the authority, so it cannot be
    # composed from authority_host. None: composed as {authority_host}/{tid}/v2.0 (workforce only).
    issuers: IssuerRule | None = None
    required_claims: tuple[str, ...] = ("iss", "aud", "exp", "iat", "tid", "oid", "sub")
    clock_skew: int = CLOCK_SKEW_SECONDS
    _audiences_by_version: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_version = {"2.0": frozenset({self.client_id})}
        if self.accept_v1:
            by_version["1.0"] = frozenset({self.client_id}) | self.app_id_uris
        object.__setattr__(self, "_audiences_by_version", by_version)

    def audiences_for(self, version: str) -> frozenset[str]:
        """The ``aud`` values accepted in a token of ``version`` (none for a version not accepted)."""
        return self._audiences_by_version.get(version, frozenset())

    def issuer_for(self, tid: str, version: str) -> str | None:
        if version == "2.0":
            return self.issuers.v2_issuer(tid) if self.issuers else f"{self.authority_host}/{tid}/v2.0"
        if version == "1.0" and self.accept_v1:
            return V1_ISSUER.format(tid=tid)
        return None


@dataclass(frozen=True, slots=True)
class ValidatedToken:
    """A token that passed validation. Shared between requests (a validated
    token is remembered): read its claims, never change them."""

    claims: dict
    header: dict = field(default_factory=dict)

    @property
    def tid(self) -> str:
        return self.claims["tid"]

    @property
    def oid(self) -> str:
        return self.claims["oid"]


def _b64decode(segment: str) -> bytes:
    # binascii's strict mode refuses stray characters that the lenient decoder drops;
    # bytes.translate is a table look-up in C, str.translate a Python-level map (2x slower).
    padded = segment.encode("ascii").translate(_URLSAFE_TO_STD) + b"=" * (-len(segment) % 4)
    return binascii.a2b_base64(padded, strict_mode=True)


# The last character of base64 ending in a partial byte group carries unused bits,
# which must be zero: with 2 characters left over (1 byte) only these 4 of 64 fit,
# with 3 (2 bytes) these 16.
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}


def _b64decode_canonical(segment: str) -> bytes:
    """Strict base64url, and the one spelling of the bytes: otherwise sixteen texts would
    carry one signature and pass as one token (the signing input covers the other segments)."""
    allowed = _CANONICAL_LAST.get(len(segment) % 4)
    if allowed is not None and segment[-1] not in allowed:
        raise binascii.Error("non-canonical base64")
    return _b64decode(segment)


_URLSAFE_TO_STD = bytes.maketrans(b"-_", b"+/")
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
# Validated tokens remembered per worker, bounded by an estimate of their memory (see _entry_cost;
# measured against tracemalloc in tests/api/test_validation_memory.py).
SEEN_MAX_BYTES = 16 * 1024 * 1024
HEADER_CAPACITY = 64  # header segments of genuinely signed tokens: one per signing key and token type


def _json_object(segment: str) -> dict:
    try:
        value = json.loads(_b64decode(segment))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: deeply nested JSON inside the size limit.
        raise InvalidToken("malformed token") from None
    if not isinstance(value, dict):
        raise InvalidToken("malformed token")
    return value


def _split(token: object) -> tuple[str, str, str, str]:
    """Header, payload and signature segments, and the signing input, of a compact JWS."""
    # The compact JWS alphabet (RFC 7515 §7.1): strict base64 decoding of each
    # segment refuses everything else except the standard alphabet's own
    # "+", "/" and "=", refused here (cheaper than a regex over the token).
    if (not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or not token.isascii()
            or token.count(".") != 2 or "+" in token or "/" in token or "=" in token):
        raise InvalidToken("malformed token")
    signing_input, _, signature_b64 = token.rpartition(".")
    header_b64, _, payload_b64 = signing_input.partition(".")
    if len(header_b64) < 2 or len(payload_b64) < 2 or len(signature_b64) < 2:
        raise InvalidToken("malformed token")
    return header_b64, payload_b64, signature_b64, signing_input


def parse_compact(token: str) -> tuple[dict, dict, bytes, bytes]:
    """Header, claims, signing input and signature of a compact JWS; refuses anything else."""
    header_b64, payload_b64, signature_b64, signing_input = _split(token)
    header, claims = _json_object(header_b64), _json_object(payload_b64)
    try:
        signature = _b64decode(signature_b64)
    except binascii.Error:
        raise InvalidToken("malformed token") from None
    return header, claims, signing_input.encode("ascii"), signature


class Epoch(NamedTuple):
    """Everything that decides whether a token is valid besides the token and the clock.

    A remembered token is valid only in the epoch it was validated in: a new
    policy (audiences, tenants, versions) or new key material ends the epoch,
    and with it everything remembered. Comparing epochs is how that rule is kept
    in code rather than in a comment.
    """

    policy: ValidationPolicy
    keys: JwksCache
    generation: int
    issuer_template: str | None  # the discovery's issuer, as last checked (a new one ends the epoch)


def _entry_cost(token: str, claims: dict) -> int:
    """Bytes a remembered token costs, roughly: its text, the claims parsed from it (about as large
    again) and the entry's fixed overhead. Checked against tracemalloc by the tests."""
    return 2 * len(token) + 64 * len(claims) + 1024


class _RememberedTokens:
    """Validated tokens by exact text, within one epoch, bounded by ``max_bytes`` (oldest out first)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: dict[str, tuple[ValidatedToken, Epoch, int]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: object, epoch: Epoch) -> ValidatedToken | None:
        entry = self._entries.get(token) if isinstance(token, str) else None
        if entry is None or entry[1] != epoch:
            return None  # an entry of an ended epoch is dead; it ages out with the others
        return entry[0]

    def put(self, token: str, validated: ValidatedToken, epoch: Epoch) -> None:
        cost = _entry_cost(token, validated.claims)
        if cost > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(token, None)
            if old is not None:
                self.bytes -= old[2]
            if self.bytes + cost > self.max_bytes:
                # Oldest first (dicts keep insertion order), a tenth of the budget at once.
                target = self.max_bytes - cost - self.max_bytes // 10
                for stale in list(self._entries):
                    if self.bytes <= target:
                        break
                    self.bytes -= self._entries.pop(stale)[2]
            self._entries[token] = (validated, epoch, cost)
            self.bytes += cost


class TokenValidator:
    """Validates Entra JWTs against a policy and the provider's signing keys.

    Two per-worker memories keep the cost near the signature check's:
    a header segment of a genuinely signed token is not parsed and checked
    again (tokens of one signing key share it byte for byte), and a token
    validated before is recognised by its exact text, so only its lifetime is
    checked again. The latter holds for one ``Epoch`` only (the policy and the
    provider's key material it was validated under) and is bounded in bytes.
    """

    def __init__(self, policy: ValidationPolicy, keys: JwksCache, *, clock: Callable[[], float] = time.time,
                 seen_max_bytes: int = SEEN_MAX_BYTES):
        self.policy = policy
        self.keys = keys
        self._clock = clock
        self._headers: dict[str, dict] = {}
        self.remembered = _RememberedTokens(seen_max_bytes)

    def epoch(self) -> Epoch:
        issuers = self.policy.issuers
        return Epoch(self.policy, self.keys, self.keys.current_generation, issuers.template if issuers else None)

    def validate(self, token: str, *, nonce: str | None = None) -> ValidatedToken:
        validated = self.remembered.get(token, self.epoch())
        if validated is not None and self.policy.issuers is not None:
            # The discovery document as it is *now* (re-checked only when it changed: an identity
            # comparison): one refreshed to an issuer the kind refuses raises here, and a new issuer
            # ends the epoch, so nothing remembered outlives the document it was validated under.
            self.policy.issuers.check()
            validated = self.remembered.get(token, self.epoch())
        if validated is not None:
            self._check_lifetime(validated.claims)  # time moved on since
        else:
            validated = self._validate_fully(token)
        if nonce is not None and validated.claims.get("nonce") != nonce:
            raise InvalidToken("nonce mismatch")
        return validated

    def _validate_fully(self, token: str) -> ValidatedToken:
        header_b64, payload_b64, signature_b64, signing_input = _split(token)
        header = self._headers.get(header_b64)
        known_header = header is not None
        if header is None:
            header = _json_object(header_b64)
            self._check_header(header)
        claims = _json_object(payload_b64)
        try:
            signature = _b64decode_canonical(signature_b64)
        except binascii.Error:
            raise InvalidToken("malformed token") from None
        key = self.keys.key(header["kid"])
        if key is None:
            raise InvalidToken("unknown signing key")
        try:
            key.verify(signature, signing_input.encode("ascii"), _PKCS1V15, _SHA256)
        except InvalidSignature:
            raise InvalidToken("bad signature") from None
        if not known_header:
            # Only headers the provider signed: unsigned junk must not fill (or flush) this memory.
            if len(self._headers) >= HEADER_CAPACITY:
                self._headers.clear()
            self._headers[header_b64] = header
        self._check_claims(claims)
        validated = ValidatedToken(claims=claims, header=header)
        # Remembered in the epoch read *after* checking that the verifying key is still the one
        # published: keys that change from here on change the generation, and the entry is dead.
        epoch = self.epoch()
        if epoch.generation >= 0 and self.keys.published(header["kid"]) is key:
            self.remembered.put(token, validated, epoch)  # (keys due for a refetch: nothing remembered)
        return validated

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
        # The version decides both the issuer form and the audiences: a v2.0 token
        # with the v1.0 issuer (or the reverse) is refused, as is a v2.0 token
        # naming the App ID URI, which Entra never issues.
        version = claims.get("ver")
        version = version if isinstance(version, str) else ""  # Entra writes it as a string, "1.0" or "2.0"
        expected_issuer = policy.issuer_for(tid, version)
        if expected_issuer is None or claims["iss"] != expected_issuer:
            raise InvalidToken("wrong issuer")
        aud = claims["aud"]
        # A list (even one containing us) is refused: Entra issues a single audience.
        if not isinstance(aud, str) or aud not in policy.audiences_for(version):
            raise InvalidToken("wrong audience")
        if policy.access_token and not isinstance(claims.get(_CLIENT_CLAIM[version]), str):
            raise InvalidToken("not an access token")
        for name in ("exp", "iat", "nbf"):
            value = claims.get(name, 0)
            # Numbers only, and finite: JSON's 1e999 parses as infinity (a token that never expires).
            if (not isinstance(value, int | float) or isinstance(value, bool)
                    or (isinstance(value, float) and not math.isfinite(value))):
                raise InvalidToken(f"malformed {name} claim")
        self._check_lifetime(claims)

    def _check_lifetime(self, claims: dict) -> None:
        now = self._clock()
        skew = self.policy.clock_skew
        if claims["exp"] <= now - skew:
            raise InvalidToken("token expired")
        if claims.get("nbf", claims["iat"]) > now + skew or claims["iat"] > now + skew:
            raise InvalidToken("token not yet valid")


def policy_from_settings(
    authority_host: str,
    client_id: str,
    allowed_tenants: Collection[str],
    *,
    app_id_uris: Collection[str] = (),
    accept_v1: bool = False,
    **kwargs,
) -> ValidationPolicy:
    """The policy for a resource: ``client_id`` is always an accepted audience; ``app_id_uris``
    add audiences for v1.0 tokens (``API_AUDIENCE``), never narrowing the set."""
    return ValidationPolicy(
        authority_host=authority_host.rstrip("/"),
        client_id=client_id,
        allowed_tenants=frozenset(allowed_tenants),
        app_id_uris=frozenset(uri for uri in app_id_uris if uri != client_id),
        accept_v1=accept_v1,
        **kwargs,
    )
