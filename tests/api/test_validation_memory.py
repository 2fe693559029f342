"""The validator's per-worker memories, bounded and honest (security review, items 6 and 8).

* Last-known-good signing keys: while the identity provider is unreachable,
  keys past their age keep serving for a bounded time only (then 503), and
  recover by themselves.
* New key material under a kid already known ends what was remembered.
* Remembered tokens are bounded in bytes (measured with tracemalloc), and the
  header cache holds only headers of tokens the provider really signed.
"""

from __future__ import annotations

import gc
import json
import secrets
import tracemalloc

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from entra_auth.errors import IdentityProviderUnavailable, InvalidToken
from entra_auth.jwks import LAST_KNOWN_GOOD_SECONDS, MAX_AGE_SECONDS, JwksCache
from entra_auth.jwt_validation import TokenValidator, policy_from_settings
from tests.conftest import API_CLIENT_ID, HOME_TENANT_ID

from .conftest import FakeClock
from .helpers import b64url_json, bearer, public_jwk, sign_rs256, unsigned


def _clear_faults(control) -> None:
    assert control.http.delete(f"{control.base}/faults").status_code == 204


@pytest.fixture
def outage(control):
    """The identity provider's discovery and keys down; up again after the test, whatever happens
    (module-scoped fixtures of the next test module are set up before the per-test reset)."""

    def start() -> None:
        control.fault("jwks", mode="fail", status=503)
        control.fault("discovery", mode="fail", status=503)

    yield start
    _clear_faults(control)


def _unavailable(resp) -> bool:
    return resp.status_code == 503 and resp.get_json()["error"] == "temporarily_unavailable"


# -- last known good keys -----------------------------------------------------------------------------
def test_last_known_good_keys_serve_for_a_bounded_time_in_an_outage_then_recover(make_app, clocked_keys, tokens,
                                                                                  control, outage):
    app = make_app()
    clock = clocked_keys(app)
    client = app.test_client()
    token = tokens.user()
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200
    outage()

    clock.advance(MAX_AGE_SECONDS + 1)  # the keys are due for a refetch, which fails: last known good
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200
    clock.advance(LAST_KNOWN_GOOD_SECONDS - 60)
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200
    clock.advance(120)  # an hour of serving stale keys: no longer trusted
    assert _unavailable(client.get("/api/orders", headers=bearer(token)))
    clock.advance(365 * 24 * 3600)  # day 365 of the outage: still not
    assert _unavailable(client.get("/api/orders", headers=bearer(token)))

    _clear_faults(control)
    clock.advance(60)
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200, "back by itself"


def test_a_remembered_token_does_not_outlive_the_keys_that_vouched_for_it(make_app, clocked_keys, tokens, outage):
    """The seen-token memory must not become a way around the last-known-good bound."""
    app = make_app()
    clock = clocked_keys(app)
    client = app.test_client()
    token = tokens.user()
    for _ in range(3):  # validated once, then remembered
        assert client.get("/api/orders", headers=bearer(token)).status_code == 200
    outage()
    clock.advance(MAX_AGE_SECONDS + LAST_KNOWN_GOOD_SECONDS + 1)
    client.get("/api/orders", headers=bearer(token))  # the first stale use starts the last-known-good hour
    clock.advance(LAST_KNOWN_GOOD_SECONDS + 1)
    assert _unavailable(client.get("/api/orders", headers=bearer(token)))


# -- key material -------------------------------------------------------------------------------------
class _Jwks:
    """A JWKS endpoint whose document the test swaps (a unit test of the cache: a fake transport)."""

    def __init__(self):
        self.document: dict = {"keys": []}

    def get(self, url, **kwargs):
        document = self.document

        class Response:
            status_code = 200

            def raise_for_status(self):
                pass

            def json(self):
                return json.loads(json.dumps(document))

        return Response()


def _policy():
    return policy_from_settings("https://login.example", API_CLIENT_ID, [HOME_TENANT_ID])


def _claims(**extra) -> dict:
    import time

    now = int(time.time())
    return {"iss": f"https://login.example/{HOME_TENANT_ID}/v2.0", "aud": API_CLIENT_ID, "ver": "2.0",
            "tid": HOME_TENANT_ID, "oid": "o", "sub": "s", "iat": now, "nbf": now, "exp": now + 3600, **extra}


def test_new_key_material_under_a_known_kid_ends_the_remembered_tokens():
    first, second = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    endpoint, clock = _Jwks(), FakeClock()
    endpoint.document = {"keys": [public_jwk(first, "k1")]}
    keys = JwksCache(lambda: "https://login.example/keys", endpoint, clock=clock)
    validator = TokenValidator(_policy(), keys)
    token = sign_rs256({"alg": "RS256", "typ": "JWT", "kid": "k1"}, _claims(), first)
    assert validator.validate(token).claims["oid"] == "o"
    assert len(validator.remembered) == 1

    # The provider now publishes other material under the same kid (a key replaced in an emergency).
    endpoint.document = {"keys": [public_jwk(second, "k1")]}
    clock.advance(MAX_AGE_SECONDS + 1)
    with pytest.raises(InvalidToken, match="bad signature"):
        validator.validate(token)
    replacement = sign_rs256({"alg": "RS256", "typ": "JWT", "kid": "k1"}, _claims(), second)
    assert validator.validate(replacement).claims["oid"] == "o"


def test_the_same_key_material_refetched_keeps_the_remembered_tokens():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    endpoint, clock = _Jwks(), FakeClock()
    endpoint.document = {"keys": [public_jwk(key, "k1")]}
    keys = JwksCache(lambda: "https://login.example/keys", endpoint, clock=clock)
    before = keys.generation
    keys.key("k1")
    clock.advance(MAX_AGE_SECONDS + 1)
    keys.key("k1")  # refetched: same material
    assert keys.generation == before + 1, "only the first load counts as a change"


def test_a_changed_policy_ends_the_remembered_tokens():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    endpoint = _Jwks()
    endpoint.document = {"keys": [public_jwk(key, "k1")]}
    validator = TokenValidator(_policy(), JwksCache(lambda: "https://login.example/keys", endpoint))
    token = sign_rs256({"alg": "RS256", "typ": "JWT", "kid": "k1"}, _claims(), key)
    validator.validate(token)
    validator.policy = policy_from_settings("https://login.example", API_CLIENT_ID, ["another-tenant"])
    with pytest.raises(InvalidToken, match="tenant not allowed"):
        validator.validate(token)


# -- memory bounds ----------------------------------------------------------------------------------
def _validator_with_keys(max_bytes: int):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    endpoint = _Jwks()
    endpoint.document = {"keys": [public_jwk(key, "k1")]}
    return TokenValidator(_policy(), JwksCache(lambda: "https://login.example/keys", endpoint),
                          seen_max_bytes=max_bytes), key


@pytest.mark.parametrize("padding", [0, 9000], ids=["ordinary tokens", "10 KB tokens"])
def test_remembered_tokens_stay_within_their_byte_budget_as_measured(padding):
    budget = 2 * 1024 * 1024
    validator, key = _validator_with_keys(budget)
    header = {"alg": "RS256", "typ": "JWT", "kid": "k1"}
    count = 2 * budget // (2 * (1500 + padding))  # about twice what fits
    # Only what this code allocates counts: the emulator and other threads of the test process
    # allocate meanwhile too.
    ours = [tracemalloc.Filter(True, "*entra_auth/jwt_validation.py", all_frames=True),
            tracemalloc.Filter(True, "*tests/api/helpers.py", all_frames=True)]
    gc.collect()
    tracemalloc.start(30)
    try:
        before = tracemalloc.take_snapshot().filter_traces(ours)
        for _ in range(count):
            # Made inside the trace and dropped after: as a request's header, only the memory keeps it.
            token = sign_rs256(header, _claims(uti=secrets.token_urlsafe(16), pad="x" * padding), key)
            validator.validate(token)
        del token
        gc.collect()
        after = tracemalloc.take_snapshot().filter_traces(ours)
    finally:
        tracemalloc.stop()
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert validator.remembered.bytes <= budget
    assert 0 < len(validator.remembered) < count, "the budget, not the count, decided"
    # The estimate is honest: what the memory really holds stays within the budget (plus the
    # dict's own slack), whatever the token size.
    assert held <= budget * 1.1, (held, budget, len(validator.remembered))


def test_unsigned_headers_never_enter_the_header_cache():
    validator, key = _validator_with_keys(1024 * 1024)
    for i in range(300):
        forged = unsigned({"alg": "RS256", "typ": "JWT", "kid": f"k{i}"}, _claims(), "c2lnbmF0dXJl")
        with pytest.raises(InvalidToken):
            validator.validate(forged)
    assert validator._headers == {}
    genuine = sign_rs256({"alg": "RS256", "typ": "JWT", "kid": "k1"}, _claims(), key)
    validator.validate(genuine)
    assert list(validator._headers) == [b64url_json({"alg": "RS256", "typ": "JWT", "kid": "k1"})]


def test_a_cold_validator_with_keys_unavailable_remembers_nothing():
    class Down:
        def get(self, url, **kwargs):
            import requests

            raise requests.ConnectionError("down")

    validator = TokenValidator(_policy(), JwksCache(lambda: "https://login.example/keys", Down()))
    with pytest.raises(IdentityProviderUnavailable):
        validator.validate(unsigned({"alg": "RS256", "kid": "k1"}, _claims(), "c2ln"))
    assert len(validator.remembered) == 0
