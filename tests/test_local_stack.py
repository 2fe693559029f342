"""The README's first command, from a fresh clone: emulator + Redis + app come up and answer."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis
import requests

from entra_auth.http import build_http_session
from localdev.embedded_redis import EmbeddedRedis, free_port

from .conftest import HOME_TENANT_ID, ROOT


def test_embedded_redis_is_a_real_server_that_keeps_data_across_restarts(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis").start()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("probe", "kept")
        assert client.info("server")["redis_version"]
        server.stop()
        server.start()
        assert redis.Redis.from_url(server.url).get("probe") == b"kept", "append-only file replays on restart"
    finally:
        server.stop()


@pytest.fixture
def fresh_clone(tmp_path) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    # Committed files only; the virtual environment is shared so the clone's
    # ensure-venv step finds it up to date instead of reinstalling from PyPI.
    (clone / ".venv").symlink_to(ROOT / ".venv")
    return clone


def test_run_command_brings_the_stack_up_and_ctrl_c_stops_it(fresh_clone):
    app_port, emulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "APP_ENV")}
    proc = subprocess.Popen(
        ["./run", "--port", str(app_port), "--emulator-port", str(emulator_port)],
        cwd=fresh_clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    banner: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            banner.append(line)
            if "Ctrl-C stops everything" in line:
                break
        text = "".join(banner)
        assert f"http://localhost:{app_port}" in text, text
        assert "megan@contoso.example" in text and "adele@contoso.example" in text
        ca = fresh_clone / "instance" / "entra-emulator" / "ca.pem"
        assert ca.is_file(), "the emulator generated its CA inside the clone's ignored instance folder"

        assert requests.get(f"http://localhost:{app_port}/healthz", timeout=5).json() == {"status": "ok"}
        http = build_http_session(str(ca))
        discovery = http.get(
            f"https://127.0.0.1:{emulator_port}/{HOME_TENANT_ID}/v2.0/.well-known/openid-configuration"
        ).json()
        assert discovery["issuer"] == f"https://127.0.0.1:{emulator_port}/{HOME_TENANT_ID}/v2.0"
        assert requests.get(f"http://localhost:{app_port}/readyz", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        proc.stdout.close()
    assert proc.returncode == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://localhost:{app_port}/healthz", timeout=2)
    leftover = subprocess.run(["pgrep", "-f", f"--port {emulator_port}"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""
    redis_url = re.search(r"redis://127\.0\.0\.1:\d+/0", "".join(banner)).group(0)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
