"""Fixtures of the API tier's acceptance tests (on top of tests/conftest.py).

Tokens come from real sign-ins and client-credential grants against the
emulator, cached for the session (a sign-in costs about 150 ms); a token is
re-acquired when the key that signed it is no longer published.
"""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from entra_auth.http import build_http_session
from entra_auth.jwks import JwksCache
from tests.conftest import (
    API_DEFAULT,
    API_SCOPE_READ,
    API_SCOPE_WRITE,
    DAEMON_CLIENT_ID,
    WEB_CLIENT_ID,
    app_settings,
    confidential_app,
    sign_in_with_msal,
)

from .helpers import MEGAN, header_of, sign_rs256

READ = (API_SCOPE_READ,)
READ_WRITE = (API_SCOPE_READ, API_SCOPE_WRITE)


class Tokens:
    """Access tokens for the Orders API, from the emulator, through unmodified MSAL."""

    def __init__(self, emulator, http):
        self.emulator = emulator
        self.http = http
        self._cache: dict[tuple, dict] = {}

    def _fresh_enough(self, result: dict) -> bool:
        published = self.emulator.emulator.keys.find(header_of(result["access_token"])["kid"]) is not None
        return published and result["expires_at"] > time.time() + 120

    def sign_in(self, username: str = MEGAN, scopes=READ) -> dict:
        """A whole sign-in (the MSAL result: access_token, id_token, ...), never cached."""
        browser = build_http_session(str(self.emulator.ca_path))  # its own cookies: no SSO into another account
        try:
            _, _, result = sign_in_with_msal(self.emulator, self.http, browser, username, list(scopes))
        finally:
            browser.close()
        assert "access_token" in result, result
        result["expires_at"] = time.time() + result["expires_in"]
        return result

    def user_result(self, username: str = MEGAN, scopes=READ) -> dict:
        key = ("user", username, tuple(scopes))
        if key not in self._cache or not self._fresh_enough(self._cache[key]):
            self._cache[key] = self.sign_in(username, scopes)
        return self._cache[key]

    def user(self, username: str = MEGAN, scopes=READ) -> str:
        return self.user_result(username, scopes)["access_token"]

    def client_credentials(self, client_id: str = DAEMON_CLIENT_ID, *, fresh: bool = False) -> str:
        key = ("app", client_id)
        if fresh or key not in self._cache or not self._fresh_enough(self._cache[key]):
            # A new MSAL app each time: its own token cache, so a fresh token is issued.
            result = confidential_app(self.emulator, self.http, client_id).acquire_token_for_client([API_DEFAULT])
            assert "access_token" in result, result
            result["expires_at"] = time.time() + result["expires_in"]
            if fresh:
                return result["access_token"]
            self._cache[key] = result
        return self._cache[key]["access_token"]

    def daemon(self) -> str:
        return self.client_credentials(DAEMON_CLIENT_ID)

    def with_fault(self, control, fault: str, username: str = MEGAN, scopes=READ) -> str:
        """A user's access token carrying one of the emulator's token faults."""
        control.token_fault(fault, token_type="access_token", client_id=WEB_CLIENT_ID)
        return self.sign_in(username, scopes)["access_token"]


@pytest.fixture(scope="session")
def tokens(emulator, http) -> Tokens:
    return Tokens(emulator, http)


@pytest.fixture
def resign(emulator):
    """Sign ``claims`` with the identity provider's key: a token perfect except for what the test changed."""

    def sign(claims: dict) -> str:
        key = emulator.emulator.keys.active
        return sign_rs256({"alg": "RS256", "typ": "JWT", "kid": key.kid}, claims, key.private_key)

    return sign


@pytest.fixture(scope="session")
def rogue_key() -> rsa.RSAPrivateKey:
    """A key the identity provider never published: what a forger signs with."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def make_app(emulator, redis_server, redis_client):
    """A fresh app (cold metadata and key caches) with settings overrides."""
    from app import create_app

    def make(**overrides):
        return create_app(app_settings(emulator, redis_server, **overrides))

    return make


class FakeClock:
    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clocked_keys():
    """Give an app a JWKS cache on a clock the test moves (the 30 s cooldown without waiting).

    The cache is the app's own class, built through its public constructor on the
    app's own metadata and HTTP client; only the clock differs.
    """

    def install(app) -> FakeClock:
        state = app.extensions["entra_auth"]
        clock = FakeClock()
        cache = JwksCache(lambda: state.metadata.get()["jwks_uri"], state.http, clock=clock)
        state.jwks = cache
        state.validator.keys = cache
        return clock

    return install
