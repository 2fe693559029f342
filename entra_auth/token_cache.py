"""MSAL token caches in Redis: one partition per user (or per app, or per incoming
assertion for on-behalf-of), encrypted at rest, written back only when changed.

Why not the session: a cache blob per browser loses tokens, bloats cookies and
breaks as soon as two workers serve one user. Here a partition is the MSAL
``home_account_id`` (``oid.tid``); every browser of that user, on every worker,
shares it. The Redis key is a hash of the partition id, so key names carry no
user identifiers, and it is wrapped in a hash tag so the value and its lock
live on one Redis Cluster slot.

Encryption: ``TOKEN_CACHE_KEYS`` are Fernet keys (url-safe base64, 32 bytes;
AES-CBC + HMAC-SHA256, authenticated). ``MultiFernet`` encrypts with the first
and decrypts with any, so keys rotate without signing anyone out. A tampered
or undecryptable entry is a cache miss, never a crash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import msal
import redis
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)

LOCK_TIMEOUT_SECONDS = 10.0  # the lease; renewed every third of it while its holder works
LOCK_WAIT_SECONDS = 6.0
# Lua: delete the lock only if we still own it (never someone else's after our timeout).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
# Lua: extend the lease only while we own it.
_RENEW = ("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
          "else return 0 end")
# Lua: write the partition only while we own its lock (a fenced write): a holder whose lease was lost
# (Redis failover, a pause longer than the lease) must not overwrite what the next holder wrote.
_FENCED_SET = ("if redis.call('get', KEYS[2]) == ARGV[1] then return redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3]) "
               "else return false end")


class LeaseLost(RuntimeError):
    """The partition's lock was no longer ours when we came to write: nothing was written."""


class Lease:
    """A held partition lock: its owner token, renewed in the background while the holder works.

    A refresh may take two or three calls to Entra of up to a few seconds each;
    renewal keeps the lease from expiring under its holder (a second worker would
    then redeem the same refresh token), and ``held`` says whether it still is.
    """

    def __init__(self, client: redis.Redis, lock_key: str, owner: str, timeout: float):
        self.lock_key, self.owner = lock_key, owner
        self._redis, self._timeout = client, timeout
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._renew, name="token-cache-lease", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(self._timeout / 3):
            try:
                if not self._redis.eval(_RENEW, 1, self.lock_key, self.owner, int(self._timeout * 1000)):
                    self.lost = True
                    return
            except redis.RedisError:
                pass  # the next tick tries again; a fenced write still refuses a lost lease

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)


class TokenCacheBusy(RuntimeError):
    """Another worker held the partition's lock for too long."""


class TokenCacheCipher:
    """Authenticated encryption with key rotation (first key encrypts, all decrypt)."""

    def __init__(self, keys: list[str]):
        if not keys:
            raise ValueError("at least one token cache key is required")
        try:
            self._fernet = MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])
        except ValueError as exc:
            raise ValueError("TOKEN_CACHE_KEYS must be url-safe base64 encoded 32-byte keys") from exc

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes | None:
        """The plaintext, or None when the entry was tampered with or no key fits."""
        try:
            return self._fernet.decrypt(ciphertext)
        except InvalidToken:
            return None

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()


class PartitionCache(msal.SerializableTokenCache):
    """An MSAL cache that knows which Redis partition it came from."""

    def __init__(self, partition: str):
        super().__init__()
        self.partition = partition


class RedisTokenCacheStore:
    """Load, save, lock and delete encrypted MSAL cache partitions in Redis."""

    def __init__(
        self,
        client: redis.Redis,
        cipher: TokenCacheCipher,
        *,
        prefix: str = "tokencache",
        retention_seconds: int = 12 * 3600,
    ):
        self._redis = client
        self._cipher = cipher
        self._prefix = prefix
        # How long a partition outlives its last write when no access token
        # lasts longer: the longest a session may use the refresh token.
        self._retention = retention_seconds
        self.lock_timeout = LOCK_TIMEOUT_SECONDS

    def key(self, partition: str) -> str:
        digest = hashlib.sha256(partition.encode()).hexdigest()[:40]
        return f"{self._prefix}:{{{digest}}}"

    def load(self, partition: str) -> PartitionCache:
        """The partition's cache; empty when absent, tampered with or encrypted with a retired key."""
        return self.parse(partition, self.load_raw(partition))

    def load_raw(self, partition: str) -> bytes | None:
        """The partition's stored (encrypted) bytes, or None."""
        return self._redis.get(self.key(partition))

    def parse(self, partition: str, raw: bytes | None) -> PartitionCache:
        """Decrypt and deserialize what ``load_raw`` returned."""
        cache = PartitionCache(partition)
        if raw is not None:
            plaintext = self._cipher.decrypt(raw)
            if plaintext is None:
                log.warning("token cache entry could not be decrypted; treated as a miss (key %s)", self.key(partition))
            else:
                cache.deserialize(plaintext.decode())
        return cache

    def save(self, cache: PartitionCache, *, not_after: float | None = None, lease: Lease | None = None) -> bool:
        """Write the partition back if MSAL changed it; True when written.

        ``not_after`` (epoch seconds) caps the entry's life, e.g. at the incoming
        token's expiry for an on-behalf-of partition. With ``lease`` the write
        happens only while that lock is still ours (else ``LeaseLost``).
        """
        if not cache.has_state_changed:
            return False
        state = cache.serialize()
        ttl = self._ttl(json.loads(state))
        if not_after is not None:
            ttl = min(ttl, int(not_after - time.time()))
            if ttl <= 0:
                return False
        value = self._cipher.encrypt(state.encode())
        if lease is None:
            self._redis.set(self.key(cache.partition), value, ex=ttl)
        elif not self._redis.eval(_FENCED_SET, 2, self.key(cache.partition), lease.lock_key, lease.owner, value, ttl):
            raise LeaseLost("the token cache partition's lock expired before the write")
        return True

    def merge_into(self, partition: str, fresh: msal.SerializableTokenCache, *,
                   lease: Lease | None = None) -> PartitionCache:
        """Fold a freshly filled cache (from a sign-in) into the stored partition; call under ``locked``.

        New entries win key by key: the new refresh token replaces the old one,
        while access tokens for other scopes that other sessions use are kept.
        """
        stored = self.load(partition)
        merged = json.loads(stored.serialize() or "{}")
        for section, entries in json.loads(fresh.serialize() or "{}").items():
            if isinstance(entries, dict):
                merged.setdefault(section, {}).update(entries)
        result = PartitionCache(partition)
        result.deserialize(json.dumps(merged))
        result.has_state_changed = True
        self.save(result, lease=lease)
        return result

    def delete(self, partition: str) -> None:
        """Delete the partition (sign-out).

        Under the partition's lock: a refresh in progress in another request saves
        when it ends, and would otherwise write the tokens (with a fresh refresh
        token) back right after the sign-out deleted them. After the delete, a
        refresh that takes the lock re-reads the partition, finds nothing and stops.
        """
        try:
            with self.locked(partition):
                self._redis.delete(self.key(partition))
                return
        except TokenCacheBusy:
            log.warning("token cache partition stayed locked during sign-out; deleted without the lock")
        self._redis.delete(self.key(partition))

    def drop(self, partition: str) -> None:
        """Delete the partition while the caller holds its lock (``delete`` takes the lock itself)."""
        self._redis.delete(self.key(partition))

    @contextmanager
    def locked(self, partition: str, *, wait: float = LOCK_WAIT_SECONDS,
               timeout: float | None = None) -> Iterator[Lease]:
        """A per-partition lock, so two workers never redeem one refresh token twice.

        Yields the ``Lease``: renewed while the block runs, and what ``save`` and
        ``merge_into`` take to write only while it is still held.
        """
        timeout = self.lock_timeout if timeout is None else timeout
        lock_key = f"{self.key(partition)}:lock"
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        delay = 0.01
        while not self._redis.set(lock_key, owner, nx=True, px=int(timeout * 1000)):
            if time.monotonic() > deadline:
                raise TokenCacheBusy("the token cache partition stayed locked")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        lease = Lease(self._redis, lock_key, owner, timeout)
        try:
            yield lease
        finally:
            lease.stop()
            try:
                self._redis.eval(_RELEASE, 1, lock_key, owner)
            except redis.RedisError:
                log.warning("could not release a token cache lock; it expires by itself")

    def _ttl(self, state: dict) -> int:
        now = time.time()
        latest = max(
            (float(at.get("expires_on", 0)) for at in state.get("AccessToken", {}).values()), default=now
        )
        return max(int(latest - now), self._retention, 1)
