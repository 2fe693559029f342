"""gunicorn started exactly as the Procfile's ``web:`` line says serves the app: liveness, readiness,
hardened pages, an access log without query strings; forwarded headers are the app's decision
(TRUSTED_PROXY_HOPS), not gunicorn's; /readyz names Redis within seconds when it stops or hangs,
and recovers; and production refuses to boot on the emulator's authority.

The served instance runs as APP_ENV=testing, with every production setting set as production
needs it: production refuses the local Entra emulator as identity provider, by design (the last
test shows that this is the one and only item it refuses), and there is deliberately no switch to
let production accept it. HSTS, the one header that differs, is checked in production by
test_headers_and_csrf.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from localdev.embedded_redis import EmbeddedRedis, free_port
from tests.conftest import API_CLIENT_ID, HOME_TENANT_ID, ROOT, WEB_CLIENT_ID

from .conftest import assert_hardened, fernet_key, strong_secret_key

PROCFILE = ROOT / "Procfile"
VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


def procfile_line(process: str = "web") -> str:
    lines = [line for line in PROCFILE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    commands = dict(line.split(":", 1) for line in lines)
    return commands[process].strip()


def procfile_argv(env: dict[str, str], process: str = "web") -> tuple[list[str], set[str]]:
    """The line as a POSIX shell would run it: ``$VAR``/``${VAR:-default}`` expanded from ``env``, then
    split with the shell's quoting; ``gunicorn`` from this project's .venv. Also: the variables read."""
    line = procfile_line(process)
    # Expansion happens before splitting here, as the shell would do it outside single quotes.
    assert not any("$" in part for part in re.findall(r"'([^']*)'", line)), "no $ inside single quotes"
    read: set[str] = set()

    def expand(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        read.add(name)
        return env.get(name) or (match.group(2) or "")

    argv = shlex.split(VARIABLE.sub(expand, line))
    assert argv[0] == "gunicorn"
    return [str(ROOT / ".venv" / "bin" / "gunicorn"), *argv[1:]], read


class Gunicorn:
    def __init__(self, env: dict[str, str], workdir: Path):
        self.port = int(env["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.stdout_path, self.stderr_path = workdir / "stdout.log", workdir / "stderr.log"
        self.argv, self.variables = procfile_argv(env)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=env, stdout=out, stderr=err)

    def wait_until_serving(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"gunicorn exited: {self.stderr[-3000:]}"
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                # Bound but still booting its workers: the socket accepts before anyone answers.
                time.sleep(0.1)
        raise AssertionError(f"gunicorn did not serve within {timeout} s: {self.stderr[-3000:]}")

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # gunicorn's master stops its workers on SIGTERM
            try:
                self.process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def deployment_env(emulator, redis_url: str, home: Path) -> dict[str, str]:
    """What an operator sets on the platform, pointed at this session's emulator and Redis."""
    certificates = emulator.emulator.certificates
    return {
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),  # gunicorn >= 25.1 puts its control socket under $HOME
        "LANG": "C.UTF-8",
        "PORT": str(free_port()),
        "SECRET_KEY": strong_secret_key(),
        "TOKEN_CACHE_KEYS": fernet_key(),
        "REDIS_URL": redis_url,
        "ENTRA_AUTHORITY_HOST": emulator.url,
        "ENTRA_CA_BUNDLE": str(emulator.ca_path),
        "ENTRA_TENANT_ID": HOME_TENANT_ID,
        "ENTRA_CLIENT_ID": WEB_CLIENT_ID,
        "ENTRA_CLIENT_CERTIFICATE_PATH": str(certificates["orders-web"].path),
        "API_CLIENT_ID": API_CLIENT_ID,
        "API_AUDIENCE": f"{API_CLIENT_ID},api://{API_CLIENT_ID}",
        "API_SCOPES": f"api://{API_CLIENT_ID}/Orders.Read api://{API_CLIENT_ID}/Orders.Write",
        "API_CLIENT_CERTIFICATE_PATH": str(certificates["orders-api"].path),
        "DOWNSTREAM_API_BASE_URL": f"{emulator.url}/v1.0",
        "TRUSTED_PROXY_HOPS": "0",
        "LOG_FORMAT": "json",
    }


@pytest.fixture(scope="module")
def redis_for_gunicorn(tmp_path_factory):
    server = EmbeddedRedis(tmp_path_factory.mktemp("gunicorn-redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def served(emulator, redis_for_gunicorn, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("gunicorn")
    env = {**deployment_env(emulator, redis_for_gunicorn.url, workdir), "APP_ENV": "testing"}
    server = Gunicorn(env, workdir)
    try:
        server.wait_until_serving()
        yield server
    finally:
        server.stop()


def test_the_procfile_line_fits_a_paas(served):
    argv = served.argv
    option = {argv[i]: argv[i + 1] for i in range(1, len(argv) - 1) if argv[i].startswith("--")}
    assert argv[1] == "app:create_app()"
    assert served.variables == {"PORT", "WEB_CONCURRENCY", "APP_ENV"}, \
        "the line reads the platform's port and worker count, and APP_ENV (production unless set)"
    assert option["--bind"] == f"0.0.0.0:{served.port}"
    assert option["--worker-class"] == "gthread" and int(option["--threads"]) >= 4, "threads: pages wait on I/O"
    assert option["--workers"] == "2", "WEB_CONCURRENCY, else 2"
    assert 0 < int(option["--timeout"]) <= 60 and int(option["--graceful-timeout"]) <= 30
    assert option["--access-logfile"] == "-"
    assert "%(r)s" not in option["--access-logformat"] and "%(q)s" not in option["--access-logformat"], \
        "the request line with its query string (codes, tokens) never reaches the access log"
    assert option["--forwarded-allow-ips"] == "", "forwarded headers are the app's call (TRUSTED_PROXY_HOPS)"
    assert served.stderr.count("Booting worker") == 2


def test_gunicorn_serves_health_readiness_and_hardened_pages(served):
    http = requests.Session()
    health = http.get(f"{served.url}/healthz", timeout=5)
    ready = http.get(f"{served.url}/readyz", timeout=10)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    responses = [health, ready]
    for path in ("/", "/no-such-page", "/auth/login?next=/orders", "/profile", "/orders", "/admin", "/api/orders"):
        responses.append(http.get(f"{served.url}{path}", allow_redirects=False, timeout=10))
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 302, 302, 302, 302, 401]
    for response in responses:
        assert_hardened(response)  # APP_ENV=testing: no HSTS (production sends it, see the module docstring)
    assert_hardened(http.get(f"{served.url}/static/app.css", timeout=5), static=True)


def test_the_access_log_has_no_query_string_and_app_logs_are_json(served):
    token_like = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln"
    response = requests.get(f"{served.url}/api/orders", params={"access_token": token_like, "code": "0.AAA-code"},
                            timeout=5)
    assert response.status_code == 401
    request_id = response.headers["X-Request-Id"]
    deadline = time.monotonic() + 5
    while request_id not in served.stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    [access] = [line for line in served.stdout.splitlines() if f"request_id={request_id}" in line]
    assert re.search(r'"GET /api/orders HTTP/1\.1" 401 \d+ \d+ms', access), access
    app_lines = [json.loads(line) for line in served.stderr.splitlines() if line.startswith("{")]
    [refusal] = [r for r in app_lines if r.get("request_id") == request_id]
    assert refusal["logger"] == "entra_auth.security" and refusal["level"] == "WARNING"
    assert "0.AAA-code" not in served.stdout + served.stderr and token_like not in served.stdout + served.stderr


@pytest.mark.parametrize("headers", [
    {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "X-Forwarded-For": "203.0.113.9"},
    {"SCRIPT_NAME": "/evil"},  # gunicorn maps this header into the WSGI environ for peers it trusts
    {"X-Forwarded-Ssl": "on", "X-Forwarded-Protocol": "ssl"},
])
def test_a_loopback_peer_cannot_steer_the_redirect_uri_when_no_proxy_is_trusted(served, headers):
    # gunicorn trusts forwarded headers from 127.0.0.1 by default: a sidecar, or anything else on the
    # host, could then make the app build https://... or /evil/... URLs although TRUSTED_PROXY_HOPS=0.
    response = requests.get(f"{served.url}/auth/login?next=/", headers=headers, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    [redirect_uri] = parse_qs(urlsplit(response.headers["Location"]).query)["redirect_uri"]
    assert redirect_uri == f"{served.url}/auth/callback"


def test_readyz_names_redis_within_seconds_when_it_hangs_or_stops_and_recovers(served, redis_for_gunicorn):
    def readyz() -> tuple[int, dict, float]:
        started = time.monotonic()
        response = requests.get(f"{served.url}/readyz", timeout=15)
        return response.status_code, response.json(), time.monotonic() - started

    assert readyz()[0] == 200
    redis_process = redis_for_gunicorn.process
    os.kill(redis_process.pid, signal.SIGSTOP)  # accepts connections, answers nothing: only a timeout helps
    try:
        status, body, took = readyz()
        assert (status, body["failing"]) == (503, ["redis"])
        assert took < 5, f"/readyz took {took:.1f} s: Redis calls must time out in seconds, not at gunicorn's 30 s"
        assert requests.get(f"{served.url}/healthz", timeout=2).status_code == 200, "liveness does not wait on Redis"
    finally:
        os.kill(redis_process.pid, signal.SIGCONT)
    assert readyz()[0] == 200

    redis_for_gunicorn.stop()
    status, body, took = readyz()
    assert (status, body["failing"], took < 3) == (503, ["redis"], True)
    redis_for_gunicorn.start()  # the same port, as a restarted or failed-over Redis would be
    assert readyz()[:2] == (200, {"status": "ready"})


def test_production_refuses_to_boot_on_the_emulator_and_on_nothing_else(emulator, redis_for_gunicorn, tmp_path):
    env = {**deployment_env(emulator, redis_for_gunicorn.url, tmp_path), "APP_ENV": "production"}
    server = Gunicorn(env, tmp_path)
    try:
        server.process.wait(timeout=30)
    finally:
        server.stop()
    assert server.process.returncode != 0
    assert "Worker failed to boot" in server.stderr
    refusals = {line for line in server.stderr.splitlines() if line.startswith("config.ConfigError: ")}
    assert refusals == {
        "config.ConfigError: Refusing to start (production): the local Entra emulator is configured: "
        "ENTRA_AUTHORITY_HOST is a local address (127.0.0.1) and ENTRA_CA_BUNDLE is the emulator's CA."}, refusals
