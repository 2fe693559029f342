"""The users' token caches in Redis: never a token in clear text, a tampered entry is a
miss (a new sign-in, not a 500), keys rotate without signing anyone out, and a warm
signed-in page costs no identity-provider call."""

from __future__ import annotations

import re

from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet, InvalidToken

from tests.conftest import TEST_TOKEN_CACHE_KEY

from .conftest import record_tokens, sign_in

MEGAN = "megan@contoso.example"
SLICE = 40
# Endpoints of the identity provider in the emulator's request log ("graph" is the downstream API).
IDP_ENDPOINTS = {"discovery", "jwks", "authorize", "token", "logout", "msi"}


def everything_in_redis(client) -> list[bytes]:
    """Every key name and every value of every type, plus each key's DUMP (the raw serialized value)."""
    found: list[bytes] = []
    for key in client.scan_iter(count=1000):
        found.append(key)
        found.append(client.dump(key) or b"")
        kind = client.type(key).decode()
        if kind == "string":
            found.append(client.get(key) or b"")
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                found += [field, value]
        elif kind == "list":
            found += client.lrange(key, 0, -1)
        elif kind == "set":
            found += list(client.smembers(key))
        elif kind == "zset":
            found += client.zrange(key, 0, -1)
        elif kind == "stream":
            for _, fields in client.xrange(key):
                for field, value in fields.items():
                    found += [field, value]
        else:
            raise AssertionError(f"unexpected Redis type {kind} for {key!r}")
    return found


JWT_SHAPE = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")


def slices(data: bytes | str, size: int = SLICE) -> set[bytes]:
    data = data.encode() if isinstance(data, str) else data
    return {data[i:i + size] for i in range(max(1, len(data) - size + 1))}


def token_slices(token: str) -> set[bytes]:
    """The 40-character slices of a token that identify it.

    Left out: slices with few distinct characters. They are runs of a public, repetitive
    value (the base64 of tenant id 11111111-1111-...), which a JWT's payload and the
    claims the session keeps share by coincidence. A slice of key material (a signature, an opaque refresh token) has
    about 30 distinct characters; fewer than 16 is practically impossible.
    """
    return {s for s in slices(token) if len(set(s)) >= 16}


def test_nothing_in_redis_holds_a_token_in_clear_text(live, new_browser, control, redis_client):
    tokens = record_tokens(live)
    control.settings(access_token_lifetime=60)  # every page refreshes: rotated refresh tokens are in the cache too
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/profile")  # the code redemption and an on-behalf-of exchange
    for path in ("/orders", "/profile", "/orders"):
        assert browser.get(f"{live.url}{path}").status_code == 200
    grants = [e.get("grant_type") for e in control.requests() if e.get("endpoint") == "token"]
    assert {"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"} <= set(grants)
    assert len(tokens) >= 8, "the hook saw the tokens the app received"
    assert all(len(token_slices(t)) >= 20 for t in tokens), "every token is recognisable by its slices"
    assert redis_client.keys("tokencache:user:*") and redis_client.keys("tokencache:obo:*")

    identifying = set().union(*(token_slices(t) for t in tokens))
    for blob in everything_in_redis(redis_client):
        leaked = identifying & slices(blob)
        assert not leaked, f"a token (or {SLICE} characters of one) is stored in clear text: {sorted(leaked)[:3]}"
        # Two JWT segments in a row: "eyJ" alone turns up by chance in ciphertext.
        assert not JWT_SHAPE.search(blob), "something JWT-shaped is stored in clear text"


@pytest.mark.parametrize("tamper", ["flipped byte", "garbage"])
def test_a_tampered_cache_entry_is_a_miss_and_the_user_signs_in_again(live, new_browser, redis_client, emulator,
                                                                     tamper):
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/orders")
    [key] = redis_client.keys("tokencache:user:*")
    value = bytearray(redis_client.get(key))
    if tamper == "flipped byte":
        middle = len(value) // 2
        value[middle] = ord("A") if value[middle] != ord("A") else ord("B")
    else:
        value = bytearray(b"\x00\xffnot a fernet token")
    redis_client.set(key, bytes(value), keepttl=True)

    response = browser.http.get(f"{live.url}/orders", allow_redirects=False)
    assert response.status_code == 302, (response.status_code, response.text[:300])
    assert urlsplit(response.headers["Location"]).netloc == urlsplit(emulator.url).netloc
    # Following it is an ordinary sign-in, back to the page, with a sound cache again.
    page = browser.follow(response, as_user=MEGAN)
    assert page.status_code == 200 and urlsplit(page.url).path == "/orders"
    Fernet(TEST_TOKEN_CACHE_KEY).decrypt(redis_client.get(key))


def test_token_cache_keys_rotate_without_signing_anyone_out(start_app, new_browser, redis_client, control,
                                                            emulator):
    old, new = TEST_TOKEN_CACHE_KEY, Fernet.generate_key().decode()
    control.settings(access_token_lifetime=60)  # each page refreshes, so the rotated app writes the cache
    first = start_app()  # encrypts with the old key
    browser = new_browser()
    sign_in(browser, first, MEGAN, "/orders")
    [key] = redis_client.keys("tokencache:user:*")
    Fernet(old).decrypt(redis_client.get(key))

    # An instance that no longer knows the old key treats the entry as a miss: sign in again, not a 500.
    new_only = start_app(TOKEN_CACHE_KEYS=[new])
    response = browser.http.get(f"{new_only.url}/orders", allow_redirects=False)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).netloc == urlsplit(emulator.url).netloc

    # After rotation ([new, old]) the same browser cookie works, and what it writes uses the new key.
    rotated = start_app(TOKEN_CACHE_KEYS=[new, old])
    response = browser.http.get(f"{rotated.url}/orders", allow_redirects=False)
    assert response.status_code == 200, response.status_code
    written = redis_client.get(key)
    Fernet(new).decrypt(written)
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(written)
    assert browser.http.get(f"{rotated.url}/profile", allow_redirects=False).status_code == 200


def test_a_warm_signed_in_page_costs_no_identity_provider_call(live, new_browser, control):
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/orders")
    assert browser.get(f"{live.url}/profile").status_code == 200  # warm: the on-behalf-of token is cached
    mark = control.last_seq()
    for _ in range(3):
        for path in ("/orders", "/profile", "/"):
            assert browser.http.get(f"{live.url}{path}", allow_redirects=False).status_code == 200
    later = control.requests(mark)
    assert [e for e in later if e.get("endpoint") in IDP_ENDPOINTS] == []
    # /profile shows the Graph-like profile: the downstream API is called (with the cached token), nothing else.
    assert {e.get("endpoint") for e in later} == {"graph"}
    assert len(later) == 3


def test_a_partition_deleted_elsewhere_is_noticed_on_the_next_page(live, new_browser, redis_client, emulator):
    """Each page re-reads the partition: what this worker answered from a moment ago does not outlive it."""
    browser = new_browser()
    sign_in(browser, live, MEGAN, "/orders")
    for _ in range(3):  # warm: the worker has answered from these very bytes
        assert browser.http.get(f"{live.url}/orders", allow_redirects=False).status_code == 200
    [key] = redis_client.keys("tokencache:user:*")
    redis_client.delete(key)  # another instance signed her out (or an operator purged the cache)
    response = browser.http.get(f"{live.url}/orders", allow_redirects=False)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).netloc == urlsplit(emulator.url).netloc


def test_a_write_after_the_lease_was_lost_writes_nothing(redis_client):
    """The fenced write: once the lock is someone else's, the old holder's cache is not written."""
    from entra_auth.token_cache import LeaseLost, PartitionCache, RedisTokenCacheStore, TokenCacheCipher

    store = RedisTokenCacheStore(redis_client, TokenCacheCipher([TEST_TOKEN_CACHE_KEY]), prefix="tokencache:test")
    cache = PartitionCache("user.tenant")
    cache.deserialize('{"AccessToken": {}}')
    cache.has_state_changed = True
    with store.locked("user.tenant") as lease:
        redis_client.set(lease.lock_key, "another-worker")  # our lease expired; someone else holds it now
        with pytest.raises(LeaseLost):
            store.save(cache, lease=lease)
        assert redis_client.get(store.key("user.tenant")) is None
    assert redis_client.get(lease.lock_key) == b"another-worker", "and their lock is left alone"
