"""Redis connections from ``REDIS_URL`` alone, with short timeouts everywhere.

URL forms (``rediss`` for TLS wherever ``redis`` is shown):

* ``redis://[[user]:password@]host:port/db`` — one server (Azure Cache for Redis, a VM, the embedded one);
* ``redis+cluster://[[user]:password@]host:port[,host:port...]`` — Redis Cluster; any node(s) to start from;
* ``redis+sentinel://[[user]:password@]host:port[,host:port...]/service-name[/db]`` — the master that the
  Sentinels name; fail-over follows it.

Every client gets the same short socket timeouts, so an outage answers 503 in
seconds rather than at gunicorn's worker timeout.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}
SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}


def _hosts(netloc: str, default_port: int) -> list[tuple[str, int]]:
    hostlist = netloc.rsplit("@", 1)[-1]
    hosts = []
    for item in hostlist.split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "")
        hosts.append((host.strip("[]"), int(port) if port else default_port))
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


def connect(url: str, *, timeout: float = 2.0) -> redis.Redis | RedisCluster:
    """A client for ``url`` (see the module docstring for the forms)."""
    common = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    parts = urlsplit(url)
    if parts.scheme in CLUSTER_SCHEMES:
        return RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in _hosts(parts.netloc, 6379)],
            ssl=CLUSTER_SCHEMES[parts.scheme],
            **_credentials(parts.netloc),
            **common,
        )
    if parts.scheme in SENTINEL_SCHEMES:
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ValueError("a redis+sentinel:// URL names the service: redis+sentinel://host:26379/mymaster[/db]")
        sentinel = Sentinel(_hosts(parts.netloc, 26379), sentinel_kwargs=common, **common)
        return sentinel.master_for(path[0], db=int(path[1]) if len(path) > 1 else 0,
                                   ssl=SENTINEL_SCHEMES[parts.scheme], **_credentials(parts.netloc))
    return redis.Redis.from_url(url, health_check_interval=30, retry_on_timeout=False, **common)
