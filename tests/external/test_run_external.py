"""``./run --tenant external`` from a fresh clone: the whole stack comes up against the emulator's
external tenant, by settings alone, and its sign-in goes to that tenant's authority."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from urllib.parse import parse_qs, urlsplit

import requests

from localdev.embedded_redis import free_port
from localdev.external_tenant import CUSTOMERS_TENANT_ID, CUSTOMERS_WEB_CLIENT_ID
from tests.test_local_stack import fresh_clone  # noqa: F401  (a clone of the committed files)


def test_run_tenant_external_serves_the_external_tenant(fresh_clone):
    app_port, emulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "APP_ENV")}
    proc = subprocess.Popen(["./run", "--tenant", "external", "--port", str(app_port), "--emulator-port",
                             str(emulator_port)], cwd=fresh_clone, env=env, stdout=subprocess.PIPE,
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
        text = "".join(banner)
        authority = f"https://localhost:{emulator_port}/{CUSTOMERS_TENANT_ID}"
        assert f"External tenant    {authority}" in text, text
        assert "avery@example.com" in text and "megan@contoso.example" not in text, text
        base = f"http://localhost:{app_port}"
        # Ready means the external tenant's discovery document was loaded.
        assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
        landing = requests.get(f"{base}/", timeout=5)
        assert "Sign in or create an account" in landing.text
        start = requests.get(f"{base}/auth/login", allow_redirects=False, timeout=5)
        assert start.status_code == 302
        location = start.headers["Location"]
        assert location.startswith(f"{authority}/oauth2/v2.0/authorize?"), location
        assert parse_qs(urlsplit(location).query)["client_id"] == [CUSTOMERS_WEB_CLIENT_ID]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        proc.stdout.close()
    assert proc.returncode == 0
