"""Fixtures of the several-instances tests: Redis in the three shapes ``REDIS_URL`` selects (one
server, a Redis Cluster of three primaries, a master behind Redis Sentinel) and app instances as
separate gunicorn processes, each started exactly as the Procfile's ``web:`` line says (two workers
of eight threads), over HTTPS on the ports whose redirect URIs the emulator registered."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import redis as redis_lib
import requests

from entra_auth.http import build_http_session
from tests.web.conftest import new_browser  # noqa: F401 - fixture
from localdev.embedded_redis import EmbeddedRedis
from localdev.redis_topologies import LocalRedisCluster, LocalRedisSentinel
from tests.conftest import API_SCOPE_READ, API_SCOPE_WRITE, LIVE_APP_PORTS, LIVE_APP_URLS, sign_in_with_msal
from tests.deploy.test_procfile import Gunicorn, deployment_env

TOPOLOGIES = ("redis", "cluster", "sentinel")
SESSION_COOKIE = "__Host-session"


@dataclass
class Topology:
    """One of REDIS_URL's forms, started locally; ``nodes`` are the servers that hold data."""

    kind: str
    url: str
    nodes: list[EmbeddedRedis]
    server: EmbeddedRedis | LocalRedisCluster | LocalRedisSentinel
    _clients: dict[int, redis_lib.Redis] = field(default_factory=dict)

    def node_client(self, node: EmbeddedRedis) -> redis_lib.Redis:
        if node.port not in self._clients:
            self._clients[node.port] = redis_lib.Redis(host="127.0.0.1", port=node.port, socket_timeout=2)
        return self._clients[node.port]

    def keys(self, pattern: str) -> set[str]:
        """Every key matching ``pattern`` on every node (a cluster spreads them over its primaries)."""
        return {k.decode() for node in self.nodes for k in self.node_client(node).scan_iter(pattern)}

    def node_for(self, key: str) -> EmbeddedRedis:
        """The node that holds ``key`` (for a cluster: the primary serving its hash slot)."""
        if self.kind != "cluster":
            return self.nodes[0]
        client = self.node_client(self.nodes[0])
        slot = client.cluster("keyslot", key)
        for low, high, (_, port, *_), *_ in client.execute_command("CLUSTER SLOTS"):
            if low <= slot <= high:
                return next(n for n in self.nodes if n.port == int(port))
        raise LookupError(key)

    def stop(self) -> None:
        """Every server of the topology down (a cluster's nodes, Sentinel and its master)."""
        self.server.stop()

    def start(self) -> None:
        """Back on the same ports and data folders; returns once it serves again."""
        self.server.start()
        self.wait_until_serving()

    def flush(self) -> None:
        for node in self.nodes:
            self.node_client(node).flushall()

    def wait_until_serving(self, timeout: float = 15) -> None:
        """After a node restart: every node answers and a cluster serves all its slots again."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(self._serving(node) for node in self.nodes):
                    return
            except redis_lib.RedisError:
                pass
            assert time.monotonic() < deadline, f"{self.kind} did not serve again within {timeout} s"
            time.sleep(0.05)

    def _serving(self, node: EmbeddedRedis) -> bool:
        client = self.node_client(node)
        if self.kind != "cluster":
            return bool(client.ping())
        return client.cluster("info").get("cluster_state") == "ok"

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self.server.stop()


def start_topology(kind: str, folder: Path) -> Topology:
    if kind == "redis":
        server = EmbeddedRedis(folder).start()
        return Topology(kind, server.url, [server], server)
    if kind == "cluster":
        cluster = LocalRedisCluster(folder, size=3).start()
        return Topology(kind, cluster.url, cluster.nodes, cluster)
    if kind == "sentinel":
        sentinel = LocalRedisSentinel(folder).start()
        return Topology(kind, sentinel.url, [sentinel.master], sentinel)
    raise ValueError(kind)


@pytest.fixture(scope="session")
def redis_topology(tmp_path_factory) -> Callable[[str], Topology]:
    """``redis_topology(kind)``: that topology, started once per test session."""
    started: dict[str, Topology] = {}

    def get(kind: str) -> Topology:
        if kind not in started:
            started[kind] = start_topology(kind, tmp_path_factory.mktemp(f"redis-{kind}"))
        return started[kind]

    yield get
    for topology in started.values():
        topology.close()


class AppInstance(Gunicorn):
    """gunicorn from the Procfile's line, serving HTTPS at ``url`` (one of LIVE_APP_URLS)."""

    def __init__(self, env: dict[str, str], workdir: Path, url: str):
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(env, workdir)
        self.url = url
        self.env = env  # what the platform set (e.g. TOKEN_CACHE_KEYS, to find what the app stored)

    def wait_until_serving(self, http: requests.Session, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"gunicorn exited: {self.stderr[-3000:]}"
            try:
                if http.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or no worker yet
                time.sleep(0.1)
        raise AssertionError(f"gunicorn did not serve {self.url} within {timeout} s: {self.stderr[-3000:]}")

    def unhandled_errors(self) -> list[str]:
        """App log lines of errors that reached the catch-all handler (a 500)."""
        return [line for line in self.stderr.splitlines() if "unhandled error" in line]


def start_instances(emulator, redis_url: str, workdir: Path, count: int, *, first_port: int = 0,
                    **env_overrides: str) -> list[AppInstance]:
    """``count`` gunicorn instances sharing one Redis, one SECRET_KEY and one TOKEN_CACHE_KEYS, as a
    deployment's instances do; HTTPS with the emulator CA's server certificate (``GUNICORN_CMD_ARGS``
    adds what the platform's TLS front end would do, the Procfile's line stays as it is)."""
    pem = str(emulator.emulator.ca.server_certificate(["127.0.0.1", "localhost", "::1"]))
    base = {**deployment_env(emulator, redis_url, workdir), "APP_ENV": "testing",
            "GUNICORN_CMD_ARGS": f"--certfile {pem} --keyfile {pem}", **env_overrides}
    instances: list[AppInstance] = []
    http = build_http_session(str(emulator.ca_path))
    try:
        for i in range(first_port, first_port + count):
            env = {**base, "PORT": str(LIVE_APP_PORTS[i]), "PUBLIC_BASE_URL": LIVE_APP_URLS[i]}
            instances.append(AppInstance(env, workdir / f"instance-{i}", LIVE_APP_URLS[i]))
        for instance in instances:
            instance.wait_until_serving(http)
    except BaseException:
        stop_all(instances)
        raise
    finally:
        http.close()
    return instances


def stop_all(instances: list[AppInstance]) -> None:
    for instance in instances:  # all at once: each drains its workers for a moment
        if instance.process.poll() is None:
            instance.process.terminate()
    for instance in instances:
        instance.stop()


@dataclass
class Deployment:
    topology: Topology
    instances: list[AppInstance]


@pytest.fixture(scope="module", params=TOPOLOGIES)
def deployment(request, emulator, redis_topology, tmp_path_factory) -> Deployment:
    """Two app instances (separate gunicorn processes, two workers each) behind one REDIS_URL."""
    topology = redis_topology(request.param)
    instances = start_instances(emulator, topology.url, tmp_path_factory.mktemp(f"instances-{request.param}"), 2)
    yield Deployment(topology, instances)
    stop_all(instances)


@pytest.fixture
def several(deployment) -> Deployment:
    """The deployment with empty Redis, and no request that ended in the catch-all 500 handler."""
    deployment.topology.wait_until_serving()
    deployment.topology.flush()
    marks = [len(i.unhandled_errors()) for i in deployment.instances]
    yield deployment
    for instance, mark in zip(deployment.instances, marks):
        assert instance.unhandled_errors()[mark:] == [], f"{instance.url} answered 500"


@pytest.fixture
def bearer_for(emulator, http):
    """``bearer_for(username)``: an Authorization header with the user's token for the Orders API
    (Orders.Read and Orders.Write), from a real sign-in with MSAL."""

    def make(username: str) -> dict[str, str]:
        with build_http_session(str(emulator.ca_path)) as browser:
            _, _, result = sign_in_with_msal(emulator, http, browser, username, [API_SCOPE_READ, API_SCOPE_WRITE])
        assert "access_token" in result, result
        return {"Authorization": f"Bearer {result['access_token']}"}

    return make
