"""Production start-up refuses every unsafe setting, in one message; warnings do not refuse;
``flask entra check`` prints the same posture for any APP_ENV, never a secret value."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding

import config
from tests.conftest import API_CLIENT_ID, HOME_TENANT_ID, MI_CLIENT_ID, ROOT, WEB_CLIENT_ID, app_settings

from .conftest import fernet_key, strong_secret_key

MI_CREDENTIAL = json.dumps([{"SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": MI_CLIENT_ID}])
SECRET_KEY = strong_secret_key()
CACHE_KEY = fernet_key()
REDIS_PASSWORD = "redis-password-0b7f1c"
CLIENT_SECRET = "client-secret-value-5d2e9a"
SAFE = {
    "APP_ENV": "production",
    "SECRET_KEY": SECRET_KEY,
    "ENTRA_AUTHORITY_HOST": "https://login.microsoftonline.com",
    "ENTRA_TENANT_ID": HOME_TENANT_ID,
    "ENTRA_CLIENT_ID": WEB_CLIENT_ID,
    "ENTRA_CLIENT_CREDENTIALS": MI_CREDENTIAL,
    "API_CLIENT_ID": API_CLIENT_ID,
    "API_AUDIENCE": f"{API_CLIENT_ID},api://{API_CLIENT_ID}",
    "API_CLIENT_CREDENTIALS": MI_CREDENTIAL,
    "REDIS_URL": f"rediss://:{REDIS_PASSWORD}@cache.contoso.example:6380/0",
    "TOKEN_CACHE_KEYS": CACHE_KEY,
    "PUBLIC_BASE_URL": "https://orders.contoso.example",
}
SECRET_VALUES = (SECRET_KEY, CACHE_KEY, REDIS_PASSWORD, CLIENT_SECRET)
LINE = re.compile(r"^(ok|warn|fail)  +(\S.*?)  +(.+)$")


def _statuses(report) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for status, item, _ in report:
        found.setdefault(item, set()).add(status)
    return found


def _refusal(environ: dict, overrides: dict | None = None) -> config.ConfigError:
    with pytest.raises(config.ConfigError) as info:
        config.load_config(environ, overrides)
    return info.value


def test_safe_production_settings_start_with_every_item_ok():
    settings = config.load_config(SAFE)
    report = config.posture(settings)
    assert {status for status, _, _ in report} == {"ok"}, [r for r in report if r[0] != "ok"]
    assert settings["CONFIG_WARNINGS"] == []
    items = {item for _, item, _ in report}
    for expected in ("SECRET_KEY", "ENTRA_AUTHORITY_HOST", "ENTRA_TENANT_ID", "REDIS_URL", "TOKEN_CACHE_KEYS", "DEBUG",
                     "emulator", "SESSION_COOKIE_SECURE", "web credential", "API credential", "credential files"):
        assert expected in items


@pytest.mark.parametrize(
    ("change", "item", "complaint"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY", "SECRET_KEY is required in production"),
        ({"SECRET_KEY": "short-but-random-9f2"}, "SECRET_KEY", "has 20 characters"),
        ({"SECRET_KEY": "changeme" * 8}, "SECRET_KEY", "looks like a placeholder"),
        ({"SECRET_KEY": "ab" * 24}, "SECRET_KEY", "too little variety"),
        ({"SECRET_KEY": "Xk9#mQ2$vL7pW4^z" * 3}, "SECRET_KEY", "is repetitive"),
        ({"ENTRA_AUTHORITY_HOST": "http://login.microsoftonline.com"}, "ENTRA_AUTHORITY_HOST",
         "ENTRA_AUTHORITY_HOST must be an https:// URL"),
        ({"ENTRA_TENANT_ID": "organizations"}, "ENTRA_TENANT_ID", "organizations needs ENTRA_ALLOWED_TENANTS"),
        ({"ENTRA_TENANT_ID": "common"}, "ENTRA_TENANT_ID", "common needs ENTRA_ALLOWED_TENANTS"),
        ({"REDIS_URL": ""}, "REDIS_URL", "REDIS_URL is required in production"),
        ({"TOKEN_CACHE_KEYS": ""}, "TOKEN_CACHE_KEYS", "TOKEN_CACHE_KEYS is required in production"),
        ({"TOKEN_CACHE_KEYS": "not-a-fernet-key"}, "TOKEN_CACHE_KEYS", "entry 1 of 1 is not a Fernet key"),
        ({"TOKEN_CACHE_KEYS": f"{CACHE_KEY},{CACHE_KEY[:20]}"}, "TOKEN_CACHE_KEYS", "entry 2 of 2 is not a Fernet key"),
        ({"FLASK_DEBUG": "1"}, "DEBUG", "DEBUG must be off in production"),
        ({"ENTRA_AUTHORITY_HOST": "https://127.0.0.1:5443"}, "emulator",
         "the local Entra emulator is configured: ENTRA_AUTHORITY_HOST is a local address (127.0.0.1)"),
        ({"ENTRA_AUTHORITY_HOST": "https://localhost:5443"}, "emulator", "is a local address (localhost)"),
        ({"ENTRA_AUTHORITY_HOST": "https://login.entra-emulator.invalid"}, "emulator", "is a local address"),
        ({"ENTRA_AUTHORITY_HOST": "https://[::1]:5443"}, "emulator", "is a local address (::1)"),
        ({"PUBLIC_BASE_URL": "http://orders.contoso.example"}, "PUBLIC_BASE_URL",
         "PUBLIC_BASE_URL must be an https:// URL"),
        ({"API_BASE_URL": "http://orders-api.contoso.internal"}, "API_BASE_URL", "API_BASE_URL must be https://"),
        ({"API_CLIENT_CREDENTIALS": ""}, "API credential", "no client credential for the API tier"),
        ({"ENTRA_CLIENT_CREDENTIALS": '[{"SourceType": "ClientSecret", "ClientSecret": "' + CLIENT_SECRET + '"'},
         "web credential", "ENTRA_CLIENT_CREDENTIALS is not valid JSON"),
        ({"TRUSTED_PROXY_HOPS": "one"}, "TRUSTED_PROXY_HOPS", "TRUSTED_PROXY_HOPS must be a whole number"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT", "LOG_FORMAT must be json, text or none"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_unsafe_production_setting_refuses_to_start(change, item, complaint):
    error = _refusal({**SAFE, **change})
    assert complaint in str(error)
    assert str(error).startswith("Refusing to start (production): ")
    assert ("fail", item) in {(status, i) for status, i, _ in error.report}
    for value in (*SECRET_VALUES, "changeme", "Xk9#mQ2$vL7pW4^z", "short-but-random-9f2"):
        assert value not in str(error), "a refusal never quotes a secret"


def test_a_cookie_that_is_not_secure_is_refused():
    error = _refusal(SAFE, {"SESSION_COOKIE_SECURE": False})
    assert "the session cookie must be Secure in production" in str(error)


def test_the_emulators_ca_is_recognised_wherever_it_lives(emulator, tmp_path, monkeypatch):
    error = _refusal({**SAFE, "ENTRA_CA_BUNDLE": str(emulator.ca_path)})
    assert "ENTRA_CA_BUNDLE is the emulator's CA" in str(error)
    # Any file in the emulator's state folder (instance/entra-emulator by default) counts too.
    monkeypatch.setattr(config, "EMULATOR_STATE", tmp_path)
    (tmp_path / "ca.pem").write_text("")
    error = _refusal({**SAFE, "ENTRA_CA_BUNDLE": str(tmp_path / "ca.pem")})
    assert "ENTRA_CA_BUNDLE is in the emulator's state folder" in str(error)
    # A corporate CA bundle elsewhere is fine.
    other = tmp_path.parent / "corporate-ca.pem"
    other.write_bytes(emulator.emulator.certificates["daemon"].certificate.public_bytes(Encoding.PEM))
    assert config.load_config({**SAFE, "ENTRA_CA_BUNDLE": str(other)})


@pytest.mark.parametrize("where", ["certificate-variable", "certificate-json", "token-file", "symlink-into-repo"])
def test_a_credential_file_inside_the_repository_is_refused(where, tmp_path):
    inside = ROOT / "instance" / "credentials" / "orders-web.pem"  # git-ignored, yet deployed with the code
    change = {
        "certificate-variable": {"ENTRA_CLIENT_CERTIFICATE_PATH": str(inside), "ENTRA_CLIENT_CREDENTIALS": ""},
        "certificate-json": {"API_CLIENT_CREDENTIALS": json.dumps(
            [{"SourceType": "Path", "CertificateDiskPath": str(inside)}])},
        "token-file": {"ENTRA_CLIENT_CREDENTIALS": json.dumps([{"SourceType": "SignedAssertionFilePath"}]),
                       "AZURE_FEDERATED_TOKEN_FILE": str(ROOT / "token")},
    }.get(where)
    if where == "symlink-into-repo":
        link = tmp_path / "cert.pem"
        link.symlink_to(inside)  # resolved, the file is in the repository
        change = {"ENTRA_CLIENT_CERTIFICATE_PATH": str(link), "ENTRA_CLIENT_CREDENTIALS": ""}
    error = _refusal({**SAFE, **change})
    assert "secret credential files inside the app's folder" in str(error)
    assert ("fail", "credential files") in {(s, i) for s, i, _ in error.report}


def test_a_credential_file_outside_the_repository_is_fine(tmp_path):
    settings = config.load_config({**SAFE, "ENTRA_CLIENT_CREDENTIALS": "",
                                   "ENTRA_CLIENT_CERTIFICATE_PATH": str(tmp_path / "mounted" / "web.pem")})
    assert ("ok", "credential files") in {(s, i) for s, i, _ in config.posture(settings)}


def test_secrets_in_a_dotenv_file_of_the_repository_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "ROOT", tmp_path)  # stands in for the repository folder
    (tmp_path / ".env").write_text(f"FLASK_APP=app\nexport ENTRA_CLIENT_SECRET={CLIENT_SECRET}\n"
                                   'API_CLIENT_CREDENTIALS=[{"SourceType": "SignedAssertionFromManagedIdentity"}]\n')
    error = _refusal(SAFE)
    assert "secrets written in files of the app's folder: .env sets ENTRA_CLIENT_SECRET (set them" in str(error)
    assert CLIENT_SECRET not in str(error)
    (tmp_path / ".env").write_text("FLASK_APP=app\n")
    assert config.load_config(SAFE)


def test_every_problem_is_listed_in_one_message():
    error = _refusal({**SAFE, "SECRET_KEY": "changeme" * 8, "ENTRA_AUTHORITY_HOST": "https://127.0.0.1:5443",
                      "REDIS_URL": "", "TOKEN_CACHE_KEYS": "nope", "FLASK_DEBUG": "true",
                      "ENTRA_TENANT_ID": "organizations"})
    message = str(error)
    for fragment in ("SECRET_KEY", "emulator", "REDIS_URL", "TOKEN_CACHE_KEYS", "DEBUG", "ENTRA_ALLOWED_TENANTS"):
        assert fragment in message
    assert message.count(";") >= 5 and "\n" not in message


@pytest.mark.parametrize(
    ("change", "item", "warning"),
    [
        ({"ENTRA_CLIENT_CREDENTIALS": "", "ENTRA_CLIENT_SECRET": CLIENT_SECRET}, "web credential",
         "only client secrets (client secret from ENTRA_CLIENT_SECRET)"),
        ({"API_CLIENT_CREDENTIALS": json.dumps([{"SourceType": "ClientSecret", "ClientSecret": CLIENT_SECRET}])},
         "API credential", "only client secrets (client secret from API_CLIENT_CREDENTIALS[0])"),
        ({"REDIS_URL": f"redis://:{REDIS_PASSWORD}@cache.contoso.example:6379/0", "REDIS_ALLOW_PLAINTEXT": "true"},
         "REDIS_URL", "redis://cache.contoso.example:6379 is not TLS"),
        ({"PUBLIC_BASE_URL": ""}, "TRUSTED_PROXY_HOPS", "0 and no PUBLIC_BASE_URL"),
        ({"LOG_LEVEL": "DEBUG"}, "LOG_LEVEL", "DEBUG: MSAL then logs its token requests"),
    ],
)
def test_discouraged_settings_warn_but_start(change, item, warning):
    settings = config.load_config({**SAFE, **change})
    assert [(i, m[:len(warning)]) for i, m in settings["CONFIG_WARNINGS"]] == [(item, warning)]
    for value in SECRET_VALUES:
        assert value not in str(settings["CONFIG_WARNINGS"])


def test_only_client_secrets_warn_but_start(emulator, redis_server, capsys, restore_logging):
    settings = {**SAFE, "ENTRA_CLIENT_CREDENTIALS": "", "ENTRA_CLIENT_SECRET": CLIENT_SECRET}
    loaded = config.load_config(settings)
    [(item, message)] = loaded["CONFIG_WARNINGS"]
    assert item == "web credential" and message.startswith("only client secrets (client secret from ENTRA_CLIENT_SECRET)")
    # At start-up (production: JSON logs), the warning is logged once logging is set up.
    from app import create_app

    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in settings.items():
            mp.setenv(name, value)
        mp.setenv("REDIS_URL", redis_server)  # create_app does not connect at start-up; this is just honest
        create_app()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    warnings = [line for line in lines if line["logger"] == "config"]
    assert [w["level"] for w in warnings] == ["WARNING"]
    assert "configuration warning (web credential): only client secrets" in warnings[0]["message"]
    assert CLIENT_SECRET not in json.dumps(lines)


def test_development_keeps_its_defaults_and_only_warns_about_production():
    settings, errors = config.parse_environment({"ENTRA_CA_BUNDLE": __file__})
    assert errors == []
    report = config.posture(settings)
    statuses = _statuses(report)
    assert "fail" not in set().union(*statuses.values())
    for item in ("emulator", "SECRET_KEY", "REDIS_URL", "TOKEN_CACHE_KEYS", "SESSION_COOKIE_SECURE", "credential files"):
        assert statuses[item] == {"warn"}, item
    message = dict((i, m) for _, i, m in report)["REDIS_URL"]
    assert message.endswith("(allowed in development; production refuses it)")
    assert config.load_config({"ENTRA_CA_BUNDLE": __file__})["APP_ENV"] == "development"


# -- flask entra check ---------------------------------------------------------------------------------

def _flask_check(env: dict) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}  # nothing else from this shell
    return subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", "entra", "check"], cwd=ROOT,
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)


def _report_lines(text: str) -> list[tuple[str, str, str]]:
    return [m.groups() for m in map(LINE.match, text.splitlines()) if m]


def test_check_prints_the_posture_of_a_production_environment_that_starts(redis_server):
    result = _flask_check({**SAFE, "ENTRA_CLIENT_CREDENTIALS": "", "ENTRA_CLIENT_SECRET": CLIENT_SECRET})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = _report_lines(result.stdout)
    assert ("warn", "web credential") in {(s, i) for s, i, _ in lines}
    assert {s for s, i, _ in lines if i != "web credential"} == {"ok"}
    assert result.stdout.strip().splitlines()[-1] == f"{len(lines) - 1} ok, 1 warn, 0 fail"
    assert len(lines) == len(result.stdout.strip().splitlines()) - 1, "one line per item, then the count"
    for value in SECRET_VALUES:
        assert value not in result.stdout + result.stderr


def test_check_reports_every_failure_even_when_production_refuses_to_start(tmp_path):
    unsafe = {**SAFE, "SECRET_KEY": "changeme" * 8, "ENTRA_AUTHORITY_HOST": "http://login.microsoftonline.com",
              "REDIS_URL": "", "TOKEN_CACHE_KEYS": f"{CACHE_KEY},bad", "FLASK_DEBUG": "1",
              "ENTRA_TENANT_ID": "common", "ENTRA_CLIENT_CREDENTIALS": "", "ENTRA_CLIENT_SECRET": CLIENT_SECRET,
              "API_CLIENT_CREDENTIALS": "", "API_CLIENT_CERTIFICATE_PATH": str(ROOT / "instance" / "api.pem")}
    result = _flask_check(unsafe)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    lines = {(s, i) for s, i, _ in _report_lines(output)}
    for item in ("SECRET_KEY", "ENTRA_AUTHORITY_HOST", "ENTRA_TENANT_ID", "REDIS_URL", "TOKEN_CACHE_KEYS", "DEBUG",
                 "credential files"):
        assert ("fail", item) in lines, item
    assert ("warn", "web credential") in lines
    assert "Error: Refusing to start (production): " in result.stderr
    for value in (*SECRET_VALUES, "changeme"):
        assert value not in output


def test_check_works_for_the_testing_environment_too(emulator, redis_server):
    from app import create_app

    settings = app_settings(emulator, redis_server)
    env = {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in settings.items()}
    app = create_app(settings)
    result = CliRunner().invoke(app.cli, ["entra", "check"], env=env, obj=None)
    assert result.exit_code == 0, result.output
    lines = _report_lines(result.output)
    assert ("ok", "APP_ENV", "testing") in lines
    emulator_line = next(line for line in lines if line[1] == "emulator")
    assert emulator_line[0] == "warn" and "(allowed in testing; production refuses it)" in emulator_line[2]


# -- configuration that would fail closed fails at start-up (security review, item 9) -------------------
@pytest.mark.parametrize("environment", ["production", "testing", "development"])
@pytest.mark.parametrize("tenant", ["contoso.onmicrosoft.com", "contoso.com", "not-a-guid"])
def test_a_domain_named_tenant_is_refused_at_start_up_in_every_environment(environment, tenant):
    """Tokens carry the tenant's GUID in tid: with a domain here every one would be refused later."""
    error = _refusal({**SAFE, "APP_ENV": environment, "ENTRA_TENANT_ID": tenant, "ENTRA_CA_BUNDLE": ""})
    assert f"ENTRA_TENANT_ID must be the tenant id, a GUID (got {tenant!r}" in str(error)


def test_allowed_tenants_must_be_guids():
    error = _refusal({**SAFE, "ENTRA_TENANT_ID": "organizations",
                      "ENTRA_ALLOWED_TENANTS": f"{HOME_TENANT_ID},fabrikam.onmicrosoft.com"})
    assert "ENTRA_ALLOWED_TENANTS must list tenant ids (GUIDs), not 'fabrikam.onmicrosoft.com'" in str(error)
    assert config.load_config({**SAFE, "ENTRA_TENANT_ID": "organizations", "ENTRA_ALLOWED_TENANTS": HOME_TENANT_ID})


def test_a_certificate_password_in_a_dotenv_file_is_refused_like_a_secret(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "ROOT", tmp_path)
    password = "pfx-password-77c1e0"
    (tmp_path / ".env").write_text(
        'ENTRA_CLIENT_CREDENTIALS=[{"SourceType": "Path", "CertificateDiskPath": "/mnt/secrets/web.pem", '
        f'"CertificatePassword": "{password}"}}]\n')
    error = _refusal(SAFE)
    assert ".env sets ENTRA_CLIENT_CREDENTIALS" in str(error) and password not in str(error)


def test_a_private_key_readable_by_group_or_others_is_a_production_warning(tmp_path):
    import trustme

    path = tmp_path / "web.pem"
    path.write_bytes(trustme.CA().issue_cert("orders-web").private_key_and_cert_chain_pem.bytes())
    credential = json.dumps([{"SourceType": "Path", "CertificateDiskPath": str(path)}])
    path.chmod(0o644)
    settings = config.load_config({**SAFE, "ENTRA_CLIENT_CREDENTIALS": credential})
    [(item, message)] = [w for w in settings["CONFIG_WARNINGS"] if w[0] == "credential file modes"]
    assert f"{path} (mode 644)" in message and "chmod 600" in message
    path.chmod(0o600)
    settings = config.load_config({**SAFE, "ENTRA_CLIENT_CREDENTIALS": credential})
    assert not [w for w in settings["CONFIG_WARNINGS"] if w[0] == "credential file modes"]
