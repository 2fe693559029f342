"""Redis connections from ``REDIS_URL`` alone, with short timeouts everywhere.

URL forms (``rediss`` for TLS wherever ``redis`` is shown):

* ``redis://[[user]:password@]host:port/db`` — one server (Azure Cache for Redis, a VM, the embedded one);
* ``redis+cluster://[[user]:password@]host:port[,host:port...]`` — Redis Cluster; any node(s) to start from;
* ``redis+sentinel://[[user]:password@]host:port[,host:port...]/service-name[/db]`` — the master that the
  Sentinels name; fail-over follows it.

Every client gets the same short socket timeouts and no retry of its own, so an
outage answers 503 in seconds rather than at gunicorn's worker timeout, and a
write that timed out is never sent twice (the token cache's ``SET NX`` lock
would otherwise find itself already held). Nothing connects before the first
command: an app starts while Redis is down and recovers by itself when it returns.
Every outage is a ``redis.RedisError`` (a cluster client's "cannot connect" is
not one by itself), which is what the session interface and the tiers answer
with 503.

Keys that one operation reads or writes together share a hash tag (``{...}``),
so multi-key commands and ``EVAL`` scripts stay on one cluster slot: a token
cache and its lock (token_cache.py), a tenant's orders (orders_store.py). A
session and its per-user and per-``sid`` indexes live on different slots; they
are only ever written by separate commands or a non-transactional pipeline,
which a cluster client splits by node.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.exceptions import RedisClusterException, SlotNotCoveredError
from redis.retry import Retry
from redis.sentinel import Sentinel

CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}
SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}


def _hosts(netloc: str, default_port: int) -> list[tuple[str, int]]:
    """``host[:port],...`` (IPv6 in brackets: ``[::1]:7000``) after any ``user:password@``."""
    hostlist = netloc.rsplit("@", 1)[-1]
    hosts = []
    for item in (i.strip() for i in hostlist.split(",")):
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        else:
            host, _, port = item.partition(":")
        hosts.append((host, int(port) if port else default_port))
    return hosts


def _credentials(netloc: str) -> dict[str, str]:
    if "@" not in netloc:
        return {}
    userinfo = netloc.rsplit("@", 1)[0]
    user, _, password = userinfo.partition(":")
    found = {}
    if user:
        found["username"] = unquote(user)
    if password:
        found["password"] = unquote(password)
    return found


def connect(url: str, *, timeout: float = 2.0) -> Any:
    """A client for ``url`` (see the module docstring for the forms); it connects on first use."""
    common = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    # No retry loop of redis-py's own (see the module docstring). Its default for clients it builds
    # itself (Sentinel's, a cluster's) is 3-10 retries: a hung Sentinel then cost 25 s per request.
    no_retry = Retry(NoBackoff(), 0)
    parts = urlsplit(url)
    if parts.scheme in CLUSTER_SCHEMES:
        return ClusterClient(functools.partial(
            RedisCluster,
            startup_nodes=[ClusterNode(h, p) for h, p in _hosts(parts.netloc, 6379)],
            ssl=CLUSTER_SCHEMES[parts.scheme],
            # A hung node cost 15-20 s per command with the cluster default (3 retries, each after
            # re-reading the slot map). One attempt, as for one server; the error path still
            # refreshes the slot map, so the next request finds a failed-over primary.
            retry=no_retry,
            **_credentials(parts.netloc),
            **common,
        ))
    if parts.scheme in SENTINEL_SCHEMES:
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ValueError("a redis+sentinel:// URL names the service: redis+sentinel://host:26379/mymaster[/db]")
        # Each Sentinel is asked in turn, one attempt each: N hung Sentinels cost N timeouts.
        sentinel = Sentinel(_hosts(parts.netloc, 26379), sentinel_kwargs={**common, "retry": no_retry},
                            **common, retry=no_retry)
        return sentinel.master_for(path[0], db=int(path[1]) if len(path) > 1 else 0,
                                   ssl=SENTINEL_SCHEMES[parts.scheme], **_credentials(parts.netloc))
    return redis.Redis.from_url(url, health_check_interval=30, retry_on_timeout=False, **common)


def ping(client: Any) -> bool:
    """Readiness: every primary answers (a cluster with one primary down has lost part of its slots)."""
    if isinstance(client, ClusterClient):
        return bool(client.ping(target_nodes=RedisCluster.PRIMARIES))
    return bool(client.ping())


# -- Redis Cluster ------------------------------------------------------------------------------------
def _unreachable(exc: RedisClusterException) -> bool:
    """Whether a cluster client error means "cannot reach the cluster" (not a programming error).

    redis-py raises ``RedisClusterException``, which is not a ``redis.RedisError``, when no
    startup node answers ("Redis Cluster cannot be connected", raised from the connection
    error) or the slots are not all served; ``CROSSSLOT``-style misuse raises it too, and
    stays what it is: a bug, not an outage.
    """
    if isinstance(exc, SlotNotCoveredError):
        return True
    if isinstance(exc.__cause__, (redis.RedisError, OSError)):
        return True
    return str(exc).startswith(("Redis Cluster cannot be connected", "All slots are not covered"))


@contextmanager
def _outages_as_connection_errors() -> Iterator[None]:
    try:
        yield
    except RedisClusterException as exc:
        if _unreachable(exc):
            raise redis.ConnectionError(f"Redis Cluster unavailable: {exc}") from exc
        raise


class _Translating:
    """Forwards to a cluster client or pipeline; cluster outages surface as ``redis.ConnectionError``,
    which the session interface and the tiers' error handlers already answer with 503."""

    def __init__(self, target: Any):
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with _outages_as_connection_errors():
                result = attribute(*args, **kwargs)
            # Pipeline methods return the pipeline (chaining): keep it wrapped.
            return _TranslatingPipeline(result) if isinstance(result, ClusterPipeline) else result

        return call


class _TranslatingPipeline(_Translating):
    def __enter__(self) -> "_TranslatingPipeline":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._target.reset()


class ClusterClient(_Translating):
    """A ``RedisCluster`` built on first use.

    ``RedisCluster()`` reads the slot map in its constructor, so building it in
    ``create_app`` would talk to Redis at start-up and, with the cluster down,
    keep every worker from booting; here the first command builds it (and,
    while the cluster is unreachable, each command tries again).
    """

    def __init__(self, factory: Callable[[], RedisCluster]):
        self._factory = factory
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()

    @property
    def _target(self) -> RedisCluster:  # type: ignore[override]
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    with _outages_as_connection_errors():
                        self._client = self._factory()
                client = self._client
        return client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
