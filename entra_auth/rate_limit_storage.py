"""Rate-limit counters (the ``limits`` library's Redis storage) kept through our own Redis client.

``limits`` builds its own client from a URL by default: without our short
timeouts, with redis-py's retry loop, reading from Sentinel *replicas*
(``use_replicas=True``), and for a cluster reading the slot map in its
constructor, so a cluster that is down at start-up keeps the app from booting.
Here it uses the client ``redis_client.connect`` already made for ``REDIS_URL``
(one server, Cluster or Sentinel): the same timeouts, TLS, credentials and
fail-over, nothing connects before the first request, and an outage is a
``redis.RedisError`` like everywhere else (a clear 503, never a 500).
"""

from __future__ import annotations

from typing import Any

import redis
from limits.storage import RedisStorage, Storage
from redis.commands.core import Script

SCHEME = "entra+redis"  # a storage URI naming this class; the client comes in the options
KEY_PREFIX = "ratelimit"  # every key of ours has a prefix (STYLE.md); limits adds "LIMITER/<key>/<scope>/..."


class SharedClientRedisStorage(RedisStorage):
    """``limits``' Redis storage (its Lua scripts, moving window included) over a client it is given."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, *, client: Any, key_prefix: str = KEY_PREFIX, wrap_exceptions: bool = False,
                 **_: Any) -> None:
        Storage.__init__(self, uri, wrap_exceptions=wrap_exceptions)
        self.key_prefix = key_prefix
        self.target_server = "redis"
        self.dependency = redis  # what ``base_exceptions`` reads: every outage is a redis.RedisError
        self.storage = client
        self.initialize_storage(uri)

    def initialize_storage(self, _uri: str) -> None:
        # limits ships its scripts as bytes: redis-py then needs no encoder from the client, so
        # nothing here talks to Redis (a cluster client is only built on its first command). Each
        # call goes through our client (EVALSHA; SCRIPT LOAD once per server that lacks the script).
        def script(text: bytes | str) -> Script:
            return Script(self.storage, text if isinstance(text, bytes) else text.encode())

        self.lua_moving_window = script(self.SCRIPT_MOVING_WINDOW)
        self.lua_acquire_moving_window = script(self.SCRIPT_ACQUIRE_MOVING_WINDOW)
        self.lua_clear_keys = script(self.SCRIPT_CLEAR_KEYS)
        self.lua_incr_expire = script(self.SCRIPT_INCR_EXPIRE)
        self.lua_sliding_window = script(self.SCRIPT_SLIDING_WINDOW)
        self.lua_acquire_sliding_window = script(self.SCRIPT_ACQUIRE_SLIDING_WINDOW)
