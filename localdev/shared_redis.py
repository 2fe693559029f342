"""One embedded Redis per data folder: whoever comes second uses the server already running there.

Two redis-server processes on one ``--dir`` would both write its append-only
file, each overwriting what the other wrote. So the process that starts a
server on a folder (``./run``, or a ``flask`` command when nothing runs)
leaves ``embedded-server.json`` in it: the URL and the server's pid. The next
one (``flask orders list`` while ``./run`` is up) finds that record, checks
the server is alive and is the one the record names (same pid behind the
URL, same folder), and connects to it instead of starting another. Starting
is serialised by a lock file, so two at once cannot both start one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from .embedded_redis import EmbeddedRedis

RECORD = "embedded-server.json"
LOCK = "embedded-server.lock"


@dataclass
class FolderRedis:
    """The Redis serving ``data_dir``: ``server`` is set when this process started it (and must stop it)."""

    url: str
    pid: int
    data_dir: Path
    server: EmbeddedRedis | None = None

    @property
    def started_here(self) -> bool:
        return self.server is not None

    def describe(self) -> str:
        how = "started an embedded Redis" if self.started_here else "using the embedded Redis already running"
        return f"{how} at {self.url} (pid {self.pid}, data in {self.data_dir})"

    def stop(self) -> None:
        """Stop the server if this process started it; a reused one belongs to its starter."""
        if self.server is None:
            return
        with _locked(self.data_dir):
            record = _read_record(self.data_dir)
            if record and record.get("pid") == self.pid:
                (self.data_dir / RECORD).unlink(missing_ok=True)
            self.server.stop()
        self.server = None


def attach_or_start(data_dir: Path | str) -> FolderRedis:
    """The server already running on ``data_dir``, or a new one started there (and recorded)."""
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with _locked(data_dir):
        running = running_server(data_dir)
        if running is not None:
            return running
        server = EmbeddedRedis(data_dir).start()
        assert server.process is not None
        record = {"url": server.url, "pid": server.process.pid, "dir": str(data_dir)}
        temporary = data_dir / f"{RECORD}.{os.getpid()}"
        temporary.write_text(json.dumps(record))
        temporary.replace(data_dir / RECORD)  # atomic: a reader sees the old record or the new, never half
        return FolderRedis(server.url, server.process.pid, data_dir, server)


def running_server(data_dir: Path) -> FolderRedis | None:
    """The recorded server of ``data_dir`` if it is alive and really is that folder's server, else None."""
    record = _read_record(data_dir)
    if not record or not isinstance(record.get("pid"), int) or not isinstance(record.get("url"), str):
        return None
    if not _alive(record["pid"]):
        return None
    client = redis.Redis.from_url(record["url"], socket_timeout=1, socket_connect_timeout=1)
    try:
        # The pid behind the URL must be the recorded one (a port can be reused by another server).
        info = client.info("server")
        folder = client.config_get("dir").get("dir")
    except redis.RedisError:
        return None
    finally:
        client.close()
    if info.get("process_id") != record["pid"] or Path(folder).resolve() != data_dir:
        return None
    return FolderRedis(record["url"], record["pid"], data_dir)


def _read_record(data_dir: Path) -> dict | None:
    try:
        value = json.loads((data_dir / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    with open(data_dir / LOCK, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
