"""Fixtures of the fuzz tests, on top of tests/conftest.py (emulator, Redis) and tests/api/conftest.py.

Hypothesis runs many examples inside one test function, so what the examples
share is built once per module (an app, a Redis client, genuine tokens), never
per test function: a function-scoped fixture would not be reset between
examples anyway, and Hypothesis rightly warns about it.
"""

from __future__ import annotations

import pytest
import redis as redis_lib
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from entra_auth.http import build_http_session
from tests.api import conftest as api_fixtures
from tests.api.conftest import READ, READ_WRITE
from tests.api.helpers import ADELE, MEGAN, claims_of, header_of
from tests.conftest import APP_BASE_URL, app_settings

# The API tier's fixtures, re-exported: real emulator tokens (session-cached) and the forger's key.
tokens = api_fixtures.tokens
rogue_key = api_fixtures.rogue_key


@pytest.fixture(scope="module")
def fuzz_redis(redis_server):
    """A Redis client for the module; the database starts empty."""
    client = redis_lib.Redis.from_url(redis_server, socket_timeout=2)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="module")
def fuzz_app(emulator, redis_server, fuzz_redis):
    """One app for all the examples of a module, served at the redirect URI the emulator knows."""
    from app import create_app

    # Hundreds of sign-in starts per module from one test client address: the per-address limit
    # (tests/web/test_anonymous_load.py) would refuse most of them, so it is set out of the way here.
    return create_app(app_settings(emulator, redis_server, PUBLIC_BASE_URL=APP_BASE_URL,
                                   SIGNIN_RATE_LIMIT="1000000 per minute"))


@pytest.fixture(scope="module")
def fuzz_client(fuzz_app):
    """A test client that keeps no cookies: every example says exactly which cookies it sends."""
    return fuzz_app.test_client(use_cookies=False)


class Genuine:
    """A genuine access token from the emulator and what a forger could know besides it.

    A plain class (not a dataclass) so that Hypothesis's failure reports show its short ``repr``.
    """

    def __init__(self, token: str, other: str, published: dict[str, rsa.RSAPublicKey],
                 certificates: dict[str, bytes]):
        self.token = token
        self.header = header_of(token)
        self.claims = claims_of(token)
        self.other = other  # another genuine token signed by the same key (another user): a signature to swap in
        self.published = published  # the provider's public keys by kid (HS256-with-public-key forgeries)
        self.certificates = certificates  # their certificates (DER), as the JWKS's x5c publishes them

    def __repr__(self) -> str:
        return f"Genuine({self.token[:16]}...{self.token[-8:]})"

    @property
    def segments(self) -> list[str]:
        return self.token.split(".")


@pytest.fixture(scope="module")
def genuine(tokens, emulator) -> Genuine:
    token = tokens.user(MEGAN, scopes=READ_WRITE)
    other = tokens.user(ADELE, scopes=READ)
    assert header_of(other)["kid"] == header_of(token)["kid"], "both signed by the active key"
    keys = emulator.emulator.keys.published()
    published = {k.kid: k.private_key.public_key() for k in keys}
    certificates = {k.kid: k.certificate.public_bytes(serialization.Encoding.DER) for k in keys}
    return Genuine(token, other, published, certificates)


@pytest.fixture(scope="module")
def idp(emulator):
    """The user's browser at the identity provider (keeps the emulator's cookies: SSO after the first sign-in)."""
    session = build_http_session(str(emulator.ca_path))
    yield session
    session.close()
