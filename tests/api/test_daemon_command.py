"""The daemon: ``flask orders list --as-app`` gets an app-only token and reads the tenant's orders."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import DAEMON_CLIENT_ID, FOREIGN_TENANT_ID, HOME_TENANT_ID, ROOT, app_settings

from .conftest import READ_WRITE
from .helpers import MEGAN


def _token_requests(control, since=0) -> list[dict]:
    return [e for e in control.requests(since) if e["endpoint"] == "token"]


def test_the_daemon_lists_the_tenants_orders_and_reuses_its_token(make_app, tokens, control, emulator):
    app = make_app()
    # An order by an employee, through the API with a user token.
    created = app.test_client().post("/api/orders", json={"item": "Stapler", "quantity": 2},
                                     headers={"Authorization": f"Bearer {tokens.user(MEGAN, READ_WRITE)}"})
    assert created.status_code == 201
    seq = control.last_seq()

    result = app.test_cli_runner().invoke(args=["orders", "list", "--as-app"])
    assert result.exit_code == 0, result.output
    assert "1 order(s) in tenant " + HOME_TENANT_ID in result.output
    assert "Stapler" in result.output
    (grant,) = _token_requests(control, seq)
    assert grant["client_id"] == DAEMON_CLIENT_ID and grant["grant_type"] == "client_credentials"
    assert grant["client_auth"] == "certificate", "the development daemon uses its certificate, no secret"

    # Another run (a new app instance, as a new process would be) reuses the token from Redis.
    again = make_app().test_cli_runner().invoke(args=["orders", "list", "--as-app", "--json"])
    assert again.exit_code == 0, again.output
    assert '"scope": "tenant"' in again.output
    assert len(_token_requests(control, seq)) == 1, "the app token came from the persisted app-token cache"


def test_the_daemon_command_runs_as_a_real_command_line(emulator, redis_server, redis_client):
    settings = app_settings(emulator, redis_server)
    env = {**os.environ, "FLASK_APP": "app"}
    for name, value in settings.items():
        env[name] = ",".join(value) if isinstance(value, list) else str(value)
    result = subprocess.run([sys.executable, "-m", "flask", "orders", "list", "--as-app"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"order(s) in tenant {HOME_TENANT_ID}" in result.stdout
    assert "eyJ" not in result.stdout + result.stderr, "no token is ever printed"


def test_the_daemon_reports_a_refused_credential_clearly(make_app, emulator):
    app = make_app(DAEMON_CLIENT_CERTIFICATE_PATH=str(emulator.emulator.certificates["orders-web"].path))
    result = app.test_cli_runner().invoke(args=["orders", "list", "--as-app"])
    assert result.exit_code == 1
    assert "refused the daemon application's credential (invalid_client" in result.output
    assert "DAEMON_CLIENT_CERTIFICATE_PATH" in result.output, "says what to check"
    assert "Traceback" not in result.output


def test_a_tenant_without_the_daemon_is_one_plain_sentence(make_app, emulator):
    """AADSTS700016: the daemon is not registered in the tenant asked for."""
    result = make_app().test_cli_runner().invoke(args=["orders", "list", "--tenant", FOREIGN_TENANT_ID])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"Error: Tenant {FOREIGN_TENANT_ID} does not know the daemon application "
                               f"{DAEMON_CLIENT_ID}: check DAEMON_CLIENT_ID and the tenant"), lines[0]
    assert "AADSTS700016" in lines[0] and "Traceback" not in result.output


def test_the_only_mode_needs_no_flag(make_app, tokens):
    result = make_app().test_cli_runner().invoke(args=["orders", "list"])
    assert result.exit_code == 0, result.output
    assert "order(s) in tenant " + HOME_TENANT_ID in result.output
