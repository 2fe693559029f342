"""The README's first command, from a fresh clone: emulator + Redis + app come up and answer."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def running_stack(clone: Path, *arguments: str, drop_env: tuple[str, ...] = ()) -> Iterator[tuple[subprocess.Popen, str]]:
    """``./run *arguments`` in ``clone`` until its banner is printed; Ctrl-C (SIGINT) on the way out."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "APP_ENV", *drop_env)}
    proc = subprocess.Popen(["./run", *arguments], cwd=clone, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
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
        yield proc, "".join(banner)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        proc.stdout.close()


def test_run_command_brings_the_stack_up_and_ctrl_c_stops_it(fresh_clone):
    app_port, emulator_port, spa_port = free_port(), free_port(), free_port()
    with running_stack(fresh_clone, "--port", str(app_port), "--emulator-port", str(emulator_port),
                       "--spa-port", str(spa_port), drop_env=("API_CORS_ORIGINS",)) as (proc, text):
        assert f"http://localhost:{app_port}" in text, text
        assert "megan@contoso.example" in text and "adele@contoso.example" in text
        # Who may open /admin, and why: an app role, or a group GROUP_ROLES maps (nina's through a nested group).
        assert re.search(r"nina@contoso\.example +Nina Petrova +\[Orders\.Admin via Orders-Approvers\]", text), text
        ca = fresh_clone / "instance" / "entra-emulator" / "ca.pem"
        assert ca.is_file(), "the emulator generated its CA inside the clone's ignored instance folder"

        assert requests.get(f"http://localhost:{app_port}/healthz", timeout=5).json() == {"status": "ok"}
        http = build_http_session(str(ca))
        discovery = http.get(
            f"https://127.0.0.1:{emulator_port}/{HOME_TENANT_ID}/v2.0/.well-known/openid-configuration"
        ).json()
        assert discovery["issuer"] == f"https://127.0.0.1:{emulator_port}/{HOME_TENANT_ID}/v2.0"
        assert requests.get(f"http://localhost:{app_port}/readyz", timeout=10).status_code == 200
        _check_the_single_page_client(text, app_port, spa_port)
    assert proc.returncode == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://localhost:{app_port}/healthz", timeout=2)
    leftover = subprocess.run(["pgrep", "-f", f"--port {emulator_port}"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""
    redis_url = re.search(r"redis://127\.0\.0\.1:\d+/0", text).group(0)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()


def _check_the_single_page_client(banner: str, app_port: int, spa_port: int) -> None:
    """The banner names the SPA's own origin; it serves the SPA only, and the API lets it in (CORS)."""
    app, spa = f"http://localhost:{app_port}", f"http://localhost:{spa_port}"
    assert re.search(rf"Single-page client +{re.escape(spa)}/spa/ ", banner), banner
    page = requests.get(f"{spa}/spa/", timeout=5)
    assert page.status_code == 200 and f'data-api-base="{app}"' in page.text
    assert requests.get(f"{spa}/static/spa/orders-spa.js", timeout=5).status_code == 200
    for path in ("/", "/auth/login", "/api/orders", "/profile"):
        assert requests.get(f"{spa}{path}", timeout=5, allow_redirects=False).status_code == 404, path
    preflight = requests.options(f"{app}/api/orders", timeout=5, headers={
        "Origin": spa, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert preflight.headers.get("Access-Control-Allow-Origin") == spa
    foreign = requests.options(f"{app}/api/orders", timeout=5, headers={
        "Origin": "http://localhost:1", "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in foreign.headers


# -- one Redis server per data folder (localdev/shared_redis.py) -------------------------------------

HOLD_THE_STACKS_REDIS = """
import sys, redis, config
from localdev.shared_redis import attach_or_start
server = attach_or_start(config.INSTANCE / "redis")  # what ./run (localdev/stack.py) does
client = redis.Redis.from_url(server.url)
print(server.url, server.pid, flush=True)
written = 0
while not sys.stdin.closed and sys.stdin.readline().strip() == "write":
    written = client.incr("stack-writes")  # each acknowledged write is counted
    print(written, flush=True)
server.stop()
print("stopped", flush=True)
"""

WRITE_FROM_A_COMMAND = """
from entra_auth.flask_ext import entra_state
r = entra_state().redis
r.set("command-write", "kept")
print("PID", r.info("server")["process_id"])
"""


def _redis_servers_on(folder: Path) -> list[int]:
    """Pids of the redis-server processes working in ``folder`` (redis-server chdirs into its --dir,
    and rewrites its command line, so the working directory is what tells)."""
    pids = subprocess.run(["pgrep", "-f", "redis-server"], capture_output=True, text=True).stdout.split()
    found = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/cwd").resolve() == folder.resolve():
                found.append(int(pid))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def _clone_env(emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "APP_ENV", "FLASK_APP")}
    # Development settings, trusting the test emulator's CA (the clone has not run ./run, so has none).
    env.update(LOG_FORMAT="text", ENTRA_CA_BUNDLE=str(emulator.ca_path))
    return env


def test_a_flask_command_uses_the_stacks_redis_and_no_write_is_lost(fresh_clone, emulator):
    folder = fresh_clone / "instance" / "redis"
    python = str(fresh_clone / ".venv" / "bin" / "python")
    holder = subprocess.Popen([python, "-c", HOLD_THE_STACKS_REDIS], cwd=fresh_clone, env=_clone_env(emulator),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url, pid = holder.stdout.readline().split()
        assert _redis_servers_on(folder) == [int(pid)]

        def write() -> int:
            holder.stdin.write("write\n")
            holder.stdin.flush()
            return int(holder.stdout.readline())

        assert write() == 1
        command = subprocess.run([str(fresh_clone / ".venv" / "bin" / "flask"), "--app", "app", "shell"],
                                 input=WRITE_FROM_A_COMMAND, cwd=fresh_clone, env=_clone_env(emulator),
                                 capture_output=True, text=True, timeout=60)
        assert command.returncode == 0, command.stderr[-2000:]
        assert f"PID {pid}" in command.stdout, "the command talked to the stack's server"
        assert f"using the embedded Redis already running at {url} (pid {pid}" in command.stderr, \
            "the command says which Redis it used"
        assert _redis_servers_on(folder) == [int(pid)], "no second server on the folder"
        last = write()
        assert last == 2, "the stack's server kept serving after the command"
    finally:
        holder.stdin.close()
        holder.wait(timeout=20)
        holder.stdout.close()
    assert _redis_servers_on(folder) == []
    # A restart replays the append-only file: every acknowledged write of both is there.
    again = EmbeddedRedis(folder).start()
    try:
        client = redis.Redis.from_url(again.url)
        assert client.get("stack-writes") == str(last).encode()
        assert client.get("command-write") == b"kept"
    finally:
        again.stop()


def test_flask_entra_check_and_export_start_no_redis(fresh_clone, tmp_path, emulator):
    flask = str(fresh_clone / ".venv" / "bin" / "flask")
    for args in (["entra", "check"], ["entra", "export-registrations", "--app-url", "https://orders.example",
                                     "--output", str(tmp_path / "registrations.json")]):
        result = subprocess.run([flask, "--app", "app", *args], cwd=fresh_clone, env=_clone_env(emulator),
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (args, result.stdout[-1000:], result.stderr[-2000:])
        # (the posture's warnings, logged in every environment, may name the embedded Redis; what must
        # not appear is app.py's line saying it is using one)
        assert "REDIS_URL is unset" not in result.stderr, result.stderr[-1000:]
        assert not (fresh_clone / "instance" / "redis").exists(), f"{args}: a Redis folder was made"
