"""``flask entra ...``: identity-platform chores (posture report, registrations export)."""

from __future__ import annotations

import datetime as dt

import click
import redis
from flask.cli import AppGroup

import config
from entra_auth import redis_client
from entra_auth.credential_refusals import recent_refusals
from entra_auth.credentials import CredentialConfigError, parse_client_credentials
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
    settings, report = config.environment_posture()
    click.echo(config.format_report(report + credential_refusal_items(settings)))
    if any(status == config.FAIL for status, _, _ in report):
        raise SystemExit(1)


TIERS = (("web", "ENTRA_CLIENT"), ("api", "API_CLIENT"), ("daemon", "DAEMON_CLIENT"))


def credential_refusal_items(settings: dict) -> list[config.PostureItem]:
    """Per tier, the credential sources Entra refused lately (recorded in Redis by any worker or the daemon)
    and the source first in line now. A warning, never a failure: the next source is in use."""
    url = settings.get("REDIS_URL")
    if not url:
        return [(config.OK, "credentials at Entra", "not checked: no REDIS_URL (the app records Entra's refusals "
                                                    "of its credentials in its Redis; see /readyz)")]
    try:
        client = redis_client.connect(url, timeout=2.0)
        items = [_tier_item(client, settings, tier, prefix) for tier, prefix in TIERS]
    except (redis.RedisError, ValueError) as exc:
        # Not a posture finding (this report is about settings): say it was not looked at.
        return [(config.OK, "credentials at Entra", f"not checked: Redis did not answer ({type(exc).__name__})")]
    return [item for item in items if item is not None]


def _tier_item(client, settings: dict, tier: str, prefix: str) -> config.PostureItem | None:
    client_id = settings.get(f"{prefix}_ID")
    try:
        sources = parse_client_credentials(prefix, settings) if client_id else []
    except CredentialConfigError:
        return None  # the posture's own credential item already says what is wrong
    if not sources:
        return None
    refused = [e for e in recent_refusals(client, client_id) if str(e.get("origin", "")).startswith(f"{prefix}_")]
    refused_origins = {e.get("origin") for e in refused}
    first = next((s for s in sources if s.origin not in refused_origins), sources[0])
    item = f"{tier} credential at Entra"
    if not refused:
        return config.OK, item, f"no refusal recorded; first in line: {first.describe()}"
    described = "; ".join(f"{e.get('source')} refused ({e.get('reason')}) at {_utc(e.get('at'))}, "
                          f"skipped until {_utc(e.get('until'))}" for e in refused)
    return config.WARN, item, f"{described}; first in line now: {first.describe()}"


def _utc(timestamp) -> str:
    return dt.datetime.fromtimestamp(float(timestamp or 0), dt.timezone.utc).strftime("%H:%M:%S UTC")
