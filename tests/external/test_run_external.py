"""``./run --tenant external`` from a fresh clone: the whole stack comes up against the emulator's
external tenant, by settings alone, and its sign-in goes to that tenant's authority."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

from localdev.embedded_redis import free_port
from localdev.external_tenant import CUSTOMERS_TENANT_ID, CUSTOMERS_WEB_CLIENT_ID
from tests.test_local_stack import fresh_clone, running_stack  # noqa: F401  (a clone of the committed files)


def test_run_tenant_external_serves_the_external_tenant(fresh_clone):
    app_port, emulator_port = free_port(), free_port()
    with running_stack(fresh_clone, "--tenant", "external", "--port", str(app_port),
                       "--emulator-port", str(emulator_port)) as (proc, text):
        authority = f"https://localhost:{emulator_port}/{CUSTOMERS_TENANT_ID}"
        assert f"External tenant    {authority}" in text, text
        assert "avery@example.com" in text and "megan@contoso.example" not in text, text
        # The single-page client is a workforce registration: not offered to customers.
        assert "Single-page client" not in text, text
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
        assert requests.get(f"{base}/spa/", timeout=5).status_code == 404
    assert proc.returncode == 0
