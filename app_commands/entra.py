"""``flask entra ...``: identity-platform chores (posture report, registrations export)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

import config
from registrations_export import export_registrations_command

group = AppGroup("entra", help="Identity platform: posture report and app-registration export.")
group.add_command(export_registrations_command)


@group.command("check", with_appcontext=False)
def check_command() -> None:
    """Print the security posture of this environment's settings (ok/warn/fail per item).

    Reads the environment itself, as the app would at start-up, and never
    refuses: the report is for any APP_ENV, and no secret value is printed.
    Exits 1 when an item fails (production would refuse to start).

    When production refuses these settings, Flask's CLI cannot build the app to
    find this command; the refusal (config.ConfigError) then prints this same
    report and exits 1.
    """
    _, report = config.environment_posture()
    click.echo(config.format_report(report))
    if any(status == config.FAIL for status, _, _ in report):
        raise SystemExit(1)
