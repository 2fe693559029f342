"""Groups under the README's production settings (the conformance issue's test configuration):
``GROUP_ROLES`` as the JSON text a platform sets, Graph at ``GRAPH_API_BASE_URL``, a web instance
calling a separate API instance over HTTPS; a malformed map refused at start-up in one message."""

from __future__ import annotations

import json

import pytest

import config
from tests.conftest import API_CLIENT_ID, LIVE_APP_URLS, WEB_CLIENT_ID

from .conftest import sign_in
from .test_groups import ADMIN_HEADING, GRACE, MEGAN, NESTOR, ORDERS_APPROVERS, membership_lookups
from .test_production_settings import production_environment, start_production_app  # noqa: F401 - fixture

GROUP_ROLES = json.dumps({ORDERS_APPROVERS.upper(): "Orders.Admin"})  # as copied from the portal: upper case


def test_groups_gate_admin_under_the_production_settings(start_production_app, new_browser, control):  # noqa: F811
    api = start_production_app(ENABLED_BLUEPRINTS="api", GROUP_ROLES=GROUP_ROLES)
    web = start_production_app(API_BASE_URL=api.url, GROUP_ROLES=GROUP_ROLES)
    assert web.state.group_roles == {ORDERS_APPROVERS: ("Orders.Admin",)}

    grace = new_browser()
    page = sign_in(grace, web, GRACE, "/admin")
    assert page.status_code == 200 and ADMIN_HEADING in page.text

    megan = new_browser()
    sign_in(megan, web, MEGAN)
    assert megan.http.get(f"{web.url}/admin", allow_redirects=False).status_code == 403

    since = control.last_seq()
    nestor = new_browser()
    page = sign_in(nestor, web, NESTOR, "/admin")
    assert page.status_code == 200 and ADMIN_HEADING in page.text
    assert nestor.get(f"{web.url}/admin").status_code == 200
    # One lookup by the web tier (the user's token), one by the API tier (on behalf of the user's token).
    assert len(membership_lookups(control, since, client_id=WEB_CLIENT_ID)) == 1
    assert len(membership_lookups(control, since, client_id=API_CLIENT_ID)) == 1


@pytest.mark.parametrize("value, says", [
    ('{"Orders-Approvers": "Orders.Admin"}', "keys must be group object ids"),
    ("Orders-Approvers=Orders.Admin", "not valid JSON"),
    (f'{{"{ORDERS_APPROVERS}": ""}}', "must be a role name"),
    (f'["{ORDERS_APPROVERS}"]', "must be a JSON object"),
])
def test_production_refuses_a_malformed_group_map_in_its_one_message(emulator, redis_server, value, says):
    environ = production_environment(emulator, redis_server, LIVE_APP_URLS[0], GROUP_ROLES=value)
    with pytest.raises(config.ConfigError) as refused:
        config.load_config(environ)
    message = refused.value.message
    assert message.startswith("Refusing to start (production): ") and "GROUP_ROLES" in message and says in message
    assert "the local Entra emulator is configured" in message  # every problem, one message
