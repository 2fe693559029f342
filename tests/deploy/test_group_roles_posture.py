"""``GROUP_ROLES`` at start-up and in ``flask entra check`` (issue #19): the mapped groups and where a
groups overage is resolved are printed; a malformed map is refused in every environment."""

from __future__ import annotations

import json

import pytest

import config

from .test_posture import SAFE, _flask_check, _refusal, _report_lines

APPROVERS = "f0000006-0000-4000-8000-000000000001"
AUDITORS = "F0000006-0000-4000-8000-0000000000AA"


def test_check_prints_the_mapped_groups_and_where_an_overage_is_resolved(redis_server):
    group_roles = json.dumps({APPROVERS: "Orders.Admin", AUDITORS: ["Orders.Admin", "Orders.Auditor"]})
    result = _flask_check({**SAFE, "GROUP_ROLES": group_roles})
    assert result.returncode == 0, result.stderr[-2000:]
    [line] = [line for line in _report_lines(result.stdout) if line[1] == "GROUP_ROLES"]
    status, _, message = line
    assert status == "ok" and message.startswith("2 group(s) mapped: ")
    assert f"{APPROVERS} -> Orders.Admin" in message
    assert f"{AUDITORS.lower()} -> Orders.Admin, Orders.Auditor" in message  # ids compared in lower case
    assert "POST https://graph.microsoft.com/v1.0/me/getMemberObjects" in message and "User.Read" in message


def test_check_names_a_configured_graph_base_url(redis_server):
    result = _flask_check({**SAFE, "GROUP_ROLES": json.dumps({APPROVERS: "Orders.Admin"}),
                           "GRAPH_API_BASE_URL": "https://graph.microsoft.us/v1.0/"})
    [line] = [line for line in _report_lines(result.stdout) if line[1] == "GROUP_ROLES"]
    assert "POST https://graph.microsoft.us/v1.0/me/getMemberObjects" in line[2]


def test_no_map_is_fine_and_says_so():
    settings, report = config.environment_posture(SAFE)
    assert ("ok", "GROUP_ROLES", "no group mapped: roles come from the roles claim only") in report


@pytest.mark.parametrize("environment", ["production", "testing", "development"])
@pytest.mark.parametrize("value, says", [
    ('{"Orders-Approvers": "Orders.Admin"}', "GROUP_ROLES keys must be group object ids (GUIDs), not 'Orders-Approvers'"),
    ("{not json", "it is not valid JSON"),
    (f'{{"{APPROVERS}": ["Orders.Admin", 7]}}', "must be a role name or a list of role names"),
    (f'{{"{APPROVERS}": "Orders Admin"}}', "must be a role name or a list of role names"),
    (f'{{"{APPROVERS}": "Orders.Admin", "{APPROVERS.upper()}": "Orders.Read"}}', "names the group"),
    ('"Orders.Admin"', "must be a JSON object"),
])
def test_a_malformed_map_is_refused_at_start_up_in_every_environment(environment, value, says):
    error = _refusal({**SAFE, "APP_ENV": environment, "ENTRA_CA_BUNDLE": "", "GROUP_ROLES": value})
    assert "GROUP_ROLES" in error.message and says in error.message


def test_a_plain_http_graph_is_refused_in_production():
    error = _refusal({**SAFE, "GRAPH_API_BASE_URL": "http://graph.contoso.example/v1.0"})
    assert "GRAPH_API_BASE_URL must be https://" in error.message
