"""The benchmark stack: the Entra emulator, one Redis, and apps under identical gunicorn settings.

Every app is served by gunicorn with the same worker class, worker and thread
counts, TLS certificate and access-log format (``%(D)s``: the server-side time
of each request, in microseconds), so what differs between two measurements
is the app, not the server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from entra_emulator import EmulatorServer
from localdev.embedded_redis import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parent.parent
HOME_TENANT_ID = "11111111-1111-4111-8111-111111111111"
WEB_CLIENT_ID = "0d9e8f7a-6b5c-4d3e-9f2a-1b0c9d8e7f6a"
API_CLIENT_ID = "6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"
GUNICORN_SETTINGS = ["--worker-class", "gthread", "--workers", "1", "--threads", "4", "--timeout", "30",
                     "--no-control-socket", "--access-logformat", "%(m)s %(U)s %(s)s %(D)s"]


@dataclass
class Served:
    name: str
    url: str
    process: subprocess.Popen
    access_log: Path
    log_lines_seen: int = 0

    def server_times_since_mark(self, path_prefix: str = "/") -> list[float]:
        """Server-side request times (seconds) logged since the last call, for paths under ``path_prefix``."""
        lines = self.access_log.read_text().splitlines()
        new, self.log_lines_seen = lines[self.log_lines_seen:], len(lines)
        times = []
        for line in new:
            parts = line.split()
            if len(parts) == 4 and parts[1].startswith(path_prefix):
                times.append(int(parts[3]) / 1e6)
        return times

    def mark(self) -> None:
        self.log_lines_seen = len(self.access_log.read_text().splitlines())


@dataclass
class Stack:
    emulator: EmulatorServer
    redis: EmbeddedRedis
    workdir: Path
    ports: dict[str, int]
    token_cache_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    served: list[Served] = field(default_factory=list)

    @property
    def cert(self) -> str:
        return str(self.emulator.emulator.ca.server_certificate(["127.0.0.1", "localhost", "::1"]))

    def url(self, name: str) -> str:
        return f"https://localhost:{self.ports[name]}"

    def app_env(self, name: str, **extra: str) -> dict[str, str]:
        """The environment of the Orders app (and of the comparison apps, which read what they need)."""
        certificates = self.emulator.emulator.certificates
        return {
            **os.environ,
            "APP_ENV": "testing",  # production refuses the emulator's authority, rightly
            "SECRET_KEY": "bench-" + "k" * 40,
            "TOKEN_CACHE_KEYS": self.token_cache_key,
            "REDIS_URL": self.redis.url,
            "ENTRA_AUTHORITY_HOST": self.emulator.url,
            "ENTRA_CA_BUNDLE": str(self.emulator.ca_path),
            "REQUESTS_CA_BUNDLE": str(self.emulator.ca_path),  # the identity library uses plain requests
            "ENTRA_CLIENT_CERTIFICATE_PATH": str(certificates["orders-web"].path),
            "API_CLIENT_CERTIFICATE_PATH": str(certificates["orders-api"].path),
            "DAEMON_CLIENT_CERTIFICATE_PATH": str(certificates["daemon"].path),
            "DOWNSTREAM_API_BASE_URL": f"{self.emulator.url}/v1.0",
            "PUBLIC_BASE_URL": self.url(name),
            "LOG_LEVEL": "WARNING",
            # Every simulated user signs in from this one loopback address: the per-address limit on
            # sign-in starts (20 a minute by default) is for the internet, not for this harness.
            "SIGNIN_RATE_LIMIT": "100000 per minute",
            **extra,
        }

    def serve(self, name: str, wsgi: str, env: dict[str, str]) -> Served:
        access_log = self.workdir / f"{name}.access.log"
        access_log.touch()
        argv = [str(Path(sys.executable).parent / "gunicorn"), wsgi, "--bind", f"127.0.0.1:{self.ports[name]}",
                "--certfile", self.cert, "--keyfile", self.cert, "--access-logfile", str(access_log),
                *GUNICORN_SETTINGS]
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=open(self.workdir / f"{name}.err.log", "wb"))
        served = Served(name, self.url(name), process, access_log)
        self.served.append(served)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited: {(self.workdir / f'{name}.err.log').read_text()[-2000:]}")
            try:
                requests.get(f"{served.url}/healthz", verify=str(self.emulator.ca_path), timeout=2)
                return served
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"{name} did not start")

    def stop(self) -> None:
        for served in self.served:
            served.process.terminate()
        for served in self.served:
            try:
                served.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                served.process.kill()
        self.emulator.stop()
        self.redis.stop()


def start_stack(app_names: list[str]) -> Stack:
    workdir = Path(tempfile.mkdtemp(prefix="orders-bench-"))
    ports = {name: free_port() for name in app_names}
    urls = [f"https://localhost:{port}" for port in ports.values()]
    emulator = EmulatorServer(port=0, state_dir=workdir / "emulator", app_base_urls=urls).start()
    redis_server = EmbeddedRedis(workdir / "redis").start()
    return Stack(emulator, redis_server, workdir, ports)
