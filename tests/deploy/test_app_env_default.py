"""A deployment that forgets ``APP_ENV`` never runs with development settings (security review, item 3).

Under gunicorn (how the Procfile deploys it) an unset ``APP_ENV`` means
production, and the Procfile says so itself; on a laptop (``./run``, ``flask``)
development stays the default. Configuration warnings are logged in every
environment, not only in production.
"""

from __future__ import annotations

import logging
import subprocess

import config
from tests.conftest import ROOT, app_settings

from .test_procfile import Gunicorn, deployment_env, procfile_argv


def test_an_unset_app_env_is_production_under_gunicorn_and_development_elsewhere():
    assert config.parse_environment({"SERVER_SOFTWARE": "gunicorn/25.1.0"})[0]["APP_ENV"] == "production"
    assert config.parse_environment({})[0]["APP_ENV"] == "development"
    # An explicit choice always wins (the test suite and ./run set theirs).
    assert config.parse_environment({"SERVER_SOFTWARE": "gunicorn/25.1.0", "APP_ENV": "testing"})[0]["APP_ENV"] \
        == "testing"


def test_the_procfile_sets_production_unless_the_platform_says_otherwise(emulator, tmp_path):
    env = {k: v for k, v in deployment_env(emulator, "redis://127.0.0.1:1/0", tmp_path).items() if k != "APP_ENV"}
    argv, variables = procfile_argv(env)
    assert "APP_ENV" in variables
    assert argv[argv.index("--env") + 1] == "APP_ENV=production"
    argv, _ = procfile_argv({**env, "APP_ENV": "testing"})
    assert argv[argv.index("--env") + 1] == "APP_ENV=testing"


def _refusal_of(server: Gunicorn) -> set[str]:
    try:
        server.process.wait(timeout=30)
    finally:
        server.stop()
    assert server.process.returncode != 0, "gunicorn served with development settings"
    return {line for line in server.stderr.splitlines() if line.startswith("config.ConfigError: ")}


def test_gunicorn_from_the_procfile_without_app_env_refuses_as_production(emulator, tmp_path):
    """Production rules apply: here they refuse the emulator, the one thing production always refuses."""
    env = {k: v for k, v in deployment_env(emulator, "redis://127.0.0.1:1/0", tmp_path).items() if k != "APP_ENV"}
    refusals = _refusal_of(Gunicorn(env, tmp_path))
    assert len(refusals) == 1 and "Refusing to start (production)" in refusals.pop()


def test_gunicorn_started_by_hand_without_app_env_is_judged_as_production(emulator, tmp_path):
    """Not through the Procfile: gunicorn's own marker decides, and a missing SECRET_KEY is refused
    rather than replaced by a random per-worker key."""
    env = {k: v for k, v in deployment_env(emulator, "redis://127.0.0.1:1/0", tmp_path).items()
           if k not in ("APP_ENV", "SECRET_KEY")}
    process = subprocess.run([str(ROOT / ".venv" / "bin" / "gunicorn"), "app:create_app()", "--bind",
                              f"127.0.0.1:{env['PORT']}", "--no-control-socket"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert process.returncode != 0
    refusal = next(line for line in process.stderr.splitlines() if line.startswith("config.ConfigError: "))
    assert "Refusing to start (production)" in refusal and "SECRET_KEY is required in production" in refusal


def test_configuration_warnings_are_logged_outside_production_too(emulator, redis_server, caplog):
    from app import create_app

    caplog.set_level(logging.WARNING, logger="config")
    app = create_app(app_settings(emulator, redis_server))
    assert app.config["APP_ENV"] == "testing" and app.config["CONFIG_WARNINGS"]
    logged = [r.getMessage() for r in caplog.records if r.name == "config"]
    assert any("configuration warning (emulator)" in message for message in logged), logged
