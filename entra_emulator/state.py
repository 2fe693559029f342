"""The emulator's mutable runtime state: codes, refresh tokens, sign-in sessions,
revocations, faults and the request log. All in memory, behind one lock."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field

AUTH_CODE_LIFETIME = 600  # Entra's authorization codes live about ten minutes.
REFRESH_TOKEN_LIFETIME = 90 * 24 * 3600
PENDING_REQUEST_LIFETIME = 1800
REQUEST_LOG_LIMIT = 5000
# group_claim_limit None: Entra's 200 group ids in a JWT (tests lower it to need only a few groups).
DEFAULT_SETTINGS: dict[str, int | None] = {"access_token_lifetime": None, "id_token_lifetime": 3600,
                                           "group_claim_limit": None}

# The faults the next issued token can carry (control surface: /_emulator/token-faults).
TOKEN_FAULTS = frozenset(
    {
        "wrong_iss",
        "wrong_aud",
        "aud_list_stranger",
        "wrong_nonce",
        "foreign_tid",
        "tid_iss_mismatch",
        "expired",
        "not_yet_valid",
        "missing_iat",
        "missing_sub",
        "missing_oid",
        "missing_tid",
        "unsigned",
        "bad_signature",
        "unknown_kid",
        "hs256_public_key",
    }
)
# Faults of a refresh grant's answer: it describes another user (of the same tenant, or of another
# tenant), as if the refresh token were someone else's. With token_type "any" the whole answer (access,
# ID and refresh token, client_info) is that user's; with "id_token" only its ID token.
REFRESH_IDENTITY_FAULTS = frozenset({"other_user", "other_tenant"})
# The grants a token fault can be scoped to ("any": the next matching token, whatever the grant).
FAULT_GRANTS = frozenset(
    {"any", "authorization_code", "refresh_token", "on_behalf_of", "client_credentials", "managed_identity"}
)
ENDPOINTS = frozenset({"discovery", "jwks", "authorize", "token", "logout", "msi", "graph"})
# What a failing endpoint's body looks like. "entra": Entra's own JSON error. The others are not
# Entra at all but what sits in front of it can send (a proxy's maintenance page, a captive portal,
# a body cut short): test-control faults for the token and managed-identity endpoints.
FAULT_BODIES = frozenset({"entra", "html", "truncated_json", "graph"})
NON_JSON_FAULT_ENDPOINTS = frozenset({"token", "msi", "graph"})
# Body "graph": Microsoft Graph's own error object ({"error": {"code", "message", "innerError"}}), graph only.


@dataclass
class PendingAuthorization:
    """An authorization request waiting for the user to pick an account."""

    tenant: str  # the tenant segment of the URL
    params: dict[str, str]
    client_key: str
    scopes: list[str]  # qualified scopes to echo back
    resource_key: str | None
    resource_values: list[str]
    reserved: list[str]
    created: float = field(default_factory=time.time)
    # Scopes of further resources to consent to now ("extra scopes to consent"): resource key -> values.
    extra_consent: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class CodeGrant:
    client_id: str
    redirect_uri: str
    user_oid: str
    tenant_key: str
    resource_key: str | None
    granted: list[str]  # scope values on the resource
    response_scope: list[str]
    reserved: list[str]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    sid: str
    auth_time: int
    claims_request: str | None
    expires: float = field(default_factory=lambda: time.time() + AUTH_CODE_LIFETIME)
    redeemed: bool = False


@dataclass
class RefreshGrant:
    client_id: str
    user_oid: str
    tenant_key: str
    sid: str
    auth_time: int
    issued: float = field(default_factory=time.time)
    expires: float = field(default_factory=lambda: time.time() + REFRESH_TOKEN_LIFETIME)
    used: bool = False  # redeemed at least once (refused again only with single_use_refresh_tokens)


@dataclass
class SignInSession:
    """The emulator's own browser session (its SSO cookie): who is signed in, where."""

    user_oid: str
    sid: str
    auth_time: int
    clients: set[str] = field(default_factory=set)
    ended: bool = False


@dataclass
class EndpointFault:
    mode: str  # "fail" or "slow"
    status: int = 503
    delay: float = 0.0
    until: float | None = None
    remaining: int | None = None
    body: str = "entra"  # one of FAULT_BODIES
    retry_after: int | None = None  # a Retry-After header on the answer (seconds)


@dataclass
class TokenFault:
    kind: str
    token_type: str = "any"  # "id_token", "access_token" or "any"
    client_id: str | None = None
    grant: str = "any"  # the grant whose answer carries it: "authorization_code", "refresh_token"... or "any"


class EmulatorState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.pending: dict[str, PendingAuthorization] = {}
        self.codes: dict[str, CodeGrant] = {}
        self.refresh_tokens: dict[str, RefreshGrant] = {}
        self.sessions: dict[str, SignInSession] = {}  # cookie value -> session
        self.revoked_at: dict[str, int] = {}  # user oid -> sessions revoked at (epoch seconds)
        self.user_consent: dict[tuple[str, str, str], set[str]] = {}  # (user oid, client key, resource key)
        self.role_overrides: dict[str, list[str]] = {}
        self.endpoint_faults: dict[str, EndpointFault] = {}
        self.token_faults: list[TokenFault] = []
        # access_token_lifetime None: Entra's default, a random 60-90 minutes per token.
        self.settings: dict[str, int | None] = dict(DEFAULT_SETTINGS)
        self.token_versions: dict[str, int] = {}  # registration key -> access token version set at runtime
        self.optional_claims: dict[str, list[str]] = {}  # registration key -> access-token optional claims
        self.group_membership_claims: dict[str, str] = {}  # registration key -> groupMembershipClaims set at runtime
        # (group id, member object id) -> member or not: memberships a test added or removed.
        self.membership_changes: dict[tuple[str, str], bool] = {}
        # Not Entra's: a URL template ({tid}, {oid}) for the overage marker's endpoint, so a test can
        # see whether an app follows it; None is Entra's Azure AD Graph URL.
        self.group_overage_endpoint: str | None = None
        # Not Entra's default. Entra keeps a refresh token valid after it is used (Microsoft Learn,
        # "Refresh tokens in the Microsoft identity platform"): a retry or a second instance holding
        # the same one still gets tokens. This test-control setting makes a used refresh token
        # refused (AADSTS70043), to prove code that must survive strict rotation and to show races.
        self.single_use_refresh_tokens = False
        self.log: list[dict] = []
        self._seq = itertools.count(1)
        self.issued_by_uti: dict[str, dict] = {}

    # -- request log ------------------------------------------------------------
    def record(self, entry: dict) -> None:
        with self.lock:
            entry["seq"] = next(self._seq)
            self.log.append(entry)
            del self.log[:-REQUEST_LOG_LIMIT]

    def entries(self, since: int = 0) -> list[dict]:
        with self.lock:
            return [e for e in self.log if e["seq"] > since]

    # -- codes and refresh tokens -------------------------------------------------
    def new_code(self, grant: CodeGrant) -> str:
        code = "1.emu-code." + secrets.token_urlsafe(48)
        with self.lock:
            self.codes[code] = grant
        return code

    def new_refresh_token(self, grant: RefreshGrant) -> str:
        token = "1.emu-rt." + secrets.token_urlsafe(64)
        with self.lock:
            self.refresh_tokens[token] = grant
        return token

    def revoke_user(self, oid: str) -> int:
        """End every session and refresh token of the user (what CAE reacts to)."""
        # The next whole second: tokens minted before now (same second included)
        # carry an earlier iat; tokens minted after are stamped no earlier.
        with self.lock:
            # A second revocation within the same second still revokes what was minted after the first.
            now = max(int(time.time()) + 1, self.revoked_at.get(oid, 0) + 1)
            self.revoked_at[oid] = now
            for s in self.sessions.values():
                if s.user_oid == oid:
                    s.ended = True
        # Refresh tokens need no marking: is_revoked() refuses every one issued for an earlier sign-in.
        return now

    def is_revoked(self, oid: str, issued_at: float) -> bool:
        revoked = self.revoked_at.get(oid)
        return revoked is not None and int(issued_at) < revoked

    def not_before_revocation(self, oid: str, now: int) -> int:
        """The issue time for a user's new token: never before their last revocation."""
        return max(now, self.revoked_at.get(oid, 0))

    # -- faults ---------------------------------------------------------------------
    def endpoint_fault(self, endpoint: str) -> EndpointFault | None:
        with self.lock:
            fault = self.endpoint_faults.get(endpoint) or self.endpoint_faults.get("*")
            if fault is None:
                return None
            if fault.until is not None and time.time() > fault.until:
                self.endpoint_faults = {k: v for k, v in self.endpoint_faults.items() if v is not fault}
                return None
            if fault.remaining is not None:
                if fault.remaining <= 0:
                    self.endpoint_faults = {k: v for k, v in self.endpoint_faults.items() if v is not fault}
                    return None
                fault.remaining -= 1
            return fault

    def take_token_fault(self, token_type: str, client_id: str, grant: str | None = None) -> str | None:
        with self.lock:
            for i, fault in enumerate(self.token_faults):
                if fault.kind not in REFRESH_IDENTITY_FAULTS and fault.token_type in ("any", token_type) \
                        and fault.client_id in (None, client_id) and fault.grant in ("any", grant):
                    del self.token_faults[i]
                    return fault.kind
        return None

    def take_refresh_identity_fault(self, client_id: str) -> TokenFault | None:
        """The next ``other_user``/``other_tenant`` fault for a refresh grant of ``client_id``, taken."""
        with self.lock:
            for i, fault in enumerate(self.token_faults):
                if fault.kind in REFRESH_IDENTITY_FAULTS and fault.client_id in (None, client_id):
                    return self.token_faults.pop(i)
        return None

    def reset(self) -> None:
        with self.lock:
            self.endpoint_faults.clear()
            self.token_faults.clear()
            self.log.clear()
            self.revoked_at.clear()
            self.role_overrides.clear()
            self.user_consent.clear()
            self.settings.update(DEFAULT_SETTINGS)
            self.token_versions.clear()
            self.optional_claims.clear()
            self.group_membership_claims.clear()
            self.membership_changes.clear()
            self.group_overage_endpoint = None
            self.single_use_refresh_tokens = False
