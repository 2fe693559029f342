"""Server-side sessions in Redis (Flask-Session), hardened.

What Flask-Session 0.8 does not do, done here (see PITFALLS.md):

* its serializer falls back to ``pickle.loads``: whoever can write a session
  key could run code. Ours decodes msgpack and nothing else; anything else
  is logged as a security event and treated as no session;
* idle and absolute timeouts enforced on the server (``_seen``/``_created``
  in the session), not only by the cookie or the Redis TTL;
* no write-back on every request: the session is written when it changed,
  or when ``_seen`` is older than ``touch_interval`` (idle tracking);
* no Redis round trip for requests that never use a session (the API tier,
  probes, static files);
* any Redis client (Redis, Redis Cluster, a Sentinel-managed master), where
  Flask-Session insists on ``redis.Redis`` and silently falls back to localhost;
* a Redis outage makes the session *unavailable* (the web tier answers 503)
  instead of an exception inside Flask's request setup;
* sessions indexed per user and per Entra ``sid``, so all of a user's sessions,
  or the one Entra's front-channel logout names, end at once on any worker;
* an ended session stays ended: a request that read it before a sign-out (or a
  front-channel logout, or a timeout) elsewhere does not write it back when it
  finishes (``SET ... XX``), which would sign the user in again;
* the cookie is deleted with the attributes it was set with: browsers ignore a
  ``__Host-`` cookie's deletion that lacks ``Secure`` (Flask-Session omits it);
* at rest, the cookie value is nowhere in Redis and a record is only believed
  if this app sealed it for that very name (``sealed_records.py``): a session
  record is named by a keyed hash of the cookie value and sealed (AES-GCM, the
  name as associated data), and the indexes list those hashes, under names that
  are keyed hashes too. Reading Redis gives no way into a session; writing it
  gives no way to make one (a record copied to another name, or minted by hand
  naming someone's token-cache partition, is refused and logged).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import msgspec
import redis
from flask import Flask, Request, Response
from flask_session.base import Serializer, ServerSideSession
from flask_session.redis import RedisSessionInterface

from .sealed_records import RecordSealer

security_log = logging.getLogger("entra_auth.security")
log = logging.getLogger(__name__)

# Requests under these paths never open a session (no cookie read, no Redis call).
SESSIONLESS_PREFIXES = ("/api/", "/healthz", "/readyz", "/static/")


class SessionDecodeError(ValueError):
    pass


class MsgpackOnlySerializer(Serializer):
    """msgpack in, msgpack out; never pickle (Flask-Session's fallback is a code-execution door)."""

    def __init__(self) -> None:
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(dict)

    def encode(self, session: ServerSideSession) -> bytes:
        return self._encoder.encode(dict(session))

    def decode(self, serialized_data: bytes) -> dict:
        try:
            return self._decoder.decode(serialized_data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise SessionDecodeError("session data is not msgpack") from exc


class EntraSession(ServerSideSession):
    """A server-side session; ``unavailable`` when Redis could not be read.

    ``stored``: read from Redis by this request (so a save updates it, never re-creates it);
    ``ended_elsewhere``: it was deleted by another request while this one ran;
    ``store_id``: the Redis key it was read from (a session written under an older key keeps
    its name until it ends), None for a new one.
    """

    unavailable = False
    stored = False
    ended_elsewhere = False
    sessionless = False
    store_id: str | None = None


class EntraSessionInterface(RedisSessionInterface):
    session_class = EntraSession

    def __init__(
        self,
        app: Flask,
        client: Any,
        sealer: RecordSealer,
        *,
        idle_timeout: int,
        absolute_timeout: int,
        key_prefix: str = "session:",
        index_prefix: str = "session-index",
    ):
        # RedisSessionInterface.__init__ refuses anything but redis.Redis (a
        # cluster client would be swapped for localhost); set what it would.
        self.client = client
        super(RedisSessionInterface, self).__init__(app, key_prefix, False, False, 32, "msgpack")
        self.serializer = MsgpackOnlySerializer()
        self.sealer = sealer
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self.touch_interval = max(1, min(300, idle_timeout // 10))
        self._index_prefix = index_prefix

    # -- names ---------------------------------------------------------------------------------
    def _get_store_id(self, sid: str) -> str:
        """Where a new session with cookie value ``sid`` is written: a keyed hash, never the value."""
        return self.key_prefix + self.sealer.digest(sid)

    def _store_ids(self, sid: str) -> list[str]:
        return [self.key_prefix + d for d in self.sealer.digests(sid)]

    def _store_id_of(self, session: ServerSideSession) -> str:
        return getattr(session, "store_id", None) or self._get_store_id(session.sid)

    def _index_key(self, kind: str, value: str) -> str:
        # Index names are keyed hashes too: no user or Entra session id in key names.
        return f"{self._index_prefix}:{kind}:{self.sealer.digest(f'{kind}:{value}')}"

    def _index_keys(self, kind: str, value: str) -> list[str]:
        return [f"{self._index_prefix}:{kind}:{d}" for d in self.sealer.digests(f"{kind}:{value}")]

    def _entry(self, store_id: str) -> str:
        """What an index lists for a session: its name's hash (never the session id)."""
        return store_id[len(self.key_prefix):]

    # -- opening -------------------------------------------------------------------------------
    def open_session(self, app: Flask, request: Request) -> EntraSession:
        if request.path.startswith(SESSIONLESS_PREFIXES):
            return self._sessionless()
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid:
            return self._new()
        try:
            found = self._read(sid)
        except redis.RedisError as exc:
            log.error("session store unavailable: %s", type(exc).__name__)
            session = self._new()
            session.unavailable = True
            return session
        if found is None:
            return self._new()  # unknown, expired or ended: a new id if anything is ever stored
        store_id, data = found
        if data is None:
            security_log.warning("session payload refused (not sealed by this app for this key name: copied, "
                                 "written by hand, or sealed with a retired key); treated as no session")
            return self._fresh_after_dropping(store_id)
        session = self.session_class(data, sid=sid)
        session.store_id = store_id
        session.stored = bool(session)
        return self._enforce_timeouts(session)

    def _new(self) -> EntraSession:
        return self.session_class(sid=self._generate_sid(self.sid_length), permanent=self.permanent)

    def _sessionless(self) -> EntraSession:
        """An empty session that is never saved: no id drawn, no cookie, no ``Vary: Cookie``.

        Every call the web tier makes to its own API in-process is such a request: saving
        nothing there is what keeps them cheap (bench/run), and it keeps a write by mistake
        from replacing the browser's session cookie with a new, empty one.
        """
        session = self.session_class()
        session.sessionless = True
        return session

    def _read(self, sid: str) -> tuple[str, dict | None] | None:
        """The stored session this cookie value names, as (its key, its data or None when refused).

        One Redis round trip: one GET, or while keys rotate, one pipeline asking every key's name.
        """
        names = self._store_ids(sid)
        if len(names) == 1:
            values = [self.client.get(names[0])]
        else:
            pipe = self.client.pipeline(transaction=False)
            for name in names:
                pipe.get(name)
            values = pipe.execute()
        for name, raw in zip(names, values):
            if raw is not None:
                return name, self._unseal(name, raw)
        return None

    def _unseal(self, store_id: str, raw: bytes) -> dict | None:
        plaintext = self.sealer.open(store_id, raw)
        if plaintext is None:
            return None
        try:
            return self.serializer.decode(plaintext)
        except SessionDecodeError:
            return None

    def _fresh_after_dropping(self, store_id: str) -> EntraSession:
        try:
            self.client.delete(store_id)
        except redis.RedisError:
            pass
        session = self._new()
        session.modified = True  # so the stale cookie is replaced or deleted
        return session

    def _enforce_timeouts(self, session: EntraSession) -> EntraSession:
        if not session:
            return session
        now = time.time()
        created = float(session.get("_created", 0))
        seen = float(session.get("_seen", 0))
        if now - seen > self.idle_timeout or now - created > self.absolute_timeout:
            reason = "idle" if now - seen > self.idle_timeout else "absolute"
            log.info("session ended by the %s timeout", reason)
            self.end(session)
            return session
        if now - seen > self.touch_interval:
            session["_seen"] = now  # marks it modified: written back once per touch interval
        return session

    # -- saving --------------------------------------------------------------------------------
    def should_set_storage(self, app: Flask, session: ServerSideSession) -> bool:
        return session.modified  # never on every request (PITFALLS.md)

    def should_set_cookie(self, app: Flask, session: ServerSideSession) -> bool:
        return not getattr(session, "ended_elsewhere", False) and super().should_set_cookie(app, session)

    def save_session(self, app: Flask, session: ServerSideSession, response: Response) -> None:
        if getattr(session, "unavailable", False) or getattr(session, "sessionless", False):
            return
        if not session:
            if session.modified:  # ended by this request (sign-out, timeout, refused payload)
                self.client.delete(self._store_id_of(session))
                self._delete_cookie(app, response)
            elif session.accessed:
                response.vary.add("Cookie")
            return
        if "_created" not in session:
            now = time.time()
            session["_created"] = now
            session["_seen"] = now
        if not session.modified:
            # Flask-Session's answer for an unchanged session (nothing stored, no cookie), without
            # the keyed hash of the cookie value it would compute first and not use.
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)
        if getattr(session, "ended_elsewhere", False):
            self._delete_cookie(app, response)

    def _delete_cookie(self, app: Flask, response: Response) -> None:
        # With the attributes it was set with: a __Host- cookie's deletion without Secure
        # (what Flask-Session sends) is ignored by browsers, and the cookie would stay.
        response.delete_cookie(
            self.get_cookie_name(app),
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app),
            samesite=self.get_cookie_samesite(app),
        )
        response.vary.add("Cookie")

    def _upsert_session(self, session_lifetime: timedelta, session: ServerSideSession, store_id: str) -> None:
        store_id = self._store_id_of(session)  # where it was read from, if it was
        now = time.time()
        remaining = float(session.get("_created", now)) + self.absolute_timeout - now
        ttl = max(1, int(min(self.idle_timeout, remaining)))
        data = self.sealer.seal(store_id, self.serializer.encode(session))
        if getattr(session, "stored", False):
            # XX: update only while it exists. If a sign-out, a front-channel logout or a
            # timeout deleted it after this request read it, writing it back would undo that.
            if not self.client.set(store_id, data, ex=ttl, xx=True):
                log.info("session ended by another request while this one ran; not written back")
                session.ended_elsewhere = True
            return
        self.client.set(store_id, data, ex=ttl)
        session.store_id = store_id

    # -- ending and indexing ---------------------------------------------------------------------
    def rotate(self, session: EntraSession) -> None:
        """A new session id (the pre-login id is dead from here on): prevents session fixation."""
        self.client.delete(self._store_id_of(session))
        session.sid = self._generate_sid(self.sid_length)
        session.store_id = None
        session.stored = False  # the new id has no entry yet: the save creates it
        session.modified = True

    def bind(self, session: EntraSession, *, user_key: str, entra_sid: str | None) -> None:
        """Index the session under its user and Entra's session id, for sign-out everywhere."""
        session["_user"] = user_key
        session["_entra_sid"] = entra_sid or ""
        entry = self._entry(self._store_id_of(session))
        pipe = self.client.pipeline(transaction=False)
        for kind, value in (("user", user_key), ("sid", entra_sid)):
            if value:
                key = self._index_key(kind, value)
                pipe.sadd(key, entry)
                pipe.expire(key, self.absolute_timeout)
        pipe.execute()

    def _unindex(self, entry: str, user: object, entra_sid: object) -> None:
        for kind, value in (("user", user), ("sid", entra_sid)):
            if isinstance(value, str) and value:
                for key in self._index_keys(kind, value):
                    self.client.srem(key, entry)

    def end(self, session: EntraSession) -> None:
        """Delete this session from Redis and its indexes; the cookie goes with the response."""
        store_id = self._store_id_of(session)
        self.client.delete(store_id)
        self._unindex(self._entry(store_id), session.get("_user"), session.get("_entra_sid"))
        session.clear()
        session.modified = True

    def end_by_id(self, sid: str) -> str | None:
        """End the session whose cookie value is ``sid`` (and its index entries) without its cookie;
        returns its user, if any."""
        found = self._read(sid)
        if found is None:
            return None
        store_id, data = found
        self.client.delete(store_id)
        data = data or {}
        user = data.get("_user")
        self._unindex(self._entry(store_id), user, data.get("_entra_sid"))
        return user if isinstance(user, str) else None

    def end_indexed(self, kind: str, value: str) -> set[str]:
        """End every session indexed under ``kind`` (``user`` or ``sid``) = ``value``.

        Returns the users (``_user``) of the sessions that ended. An index entry is only a
        name's hash: forged entries can end sessions (as deleting keys could), never reveal one.
        """
        users: set[str] = set()
        for key in self._index_keys(kind, value):
            for entry in self.client.smembers(key):
                entry = entry.decode() if isinstance(entry, bytes) else entry
                store_id = self.key_prefix + entry
                raw = self.client.get(store_id)
                if raw is not None:
                    user = (self._unseal(store_id, raw) or {}).get("_user")
                    if isinstance(user, str) and user:
                        users.add(user)
                        self._unindex(entry, user, None)
                self.client.delete(store_id)
            self.client.delete(key)
        return users

    def has_sessions(self, user_key: str) -> bool:
        """Whether the user still has a live session anywhere (their index may hold ended ones)."""
        for key in self._index_keys("user", user_key):
            for entry in self.client.smembers(key):
                entry = entry.decode() if isinstance(entry, bytes) else entry
                if self.client.exists(self.key_prefix + entry):
                    return True
                self.client.srem(key, entry)
        return False
