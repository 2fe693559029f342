"""A refresh that answers for someone else, met by two gunicorn instances (two workers each) at once.

The first refresh of a burst of page loads on both instances answers with another user's tokens
(the emulator's ``other_user`` fault on the refresh grant). Every page load ends in a fresh sign-in,
none shows anything, Redis holds no token of the other user, the session is gone on both
instances, and the security event is in the instances' logs without any token. One Redis shape is
enough here (tests/scale/test_several_instances.py varies them); the instances are real processes
sharing nothing but Redis, as in production. tests/web/test_refresh_identity.py has the same with
in-process instances, every fault kind, pages and API calls.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.fernet import Fernet

from orders_store import OrderStore
from tests.conftest import HOME_TENANT_ID, TEST_TOKEN_CACHE_KEY, WEB_CLIENT_ID
from tests.web.conftest import get_all_at_once, sign_in

from .conftest import SESSION_COOKIE, Deployment, start_instances, stop_all

MEGAN = "megan@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"
ADELE_OID = "a0000001-0000-4000-8000-000000000002"  # whom the faulty refresh answers for
ADELE_ORDER = "Adele's private stapler"
SHORT_LIFETIME = 60  # MSAL treats it as expired at once: every page load refreshes
PER_INSTANCE = 4
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}")


@pytest.fixture(scope="module")
def deployment(emulator, redis_topology, tmp_path_factory) -> Deployment:
    """Two gunicorn instances on one Redis server, with the test run's token-cache key (to read Redis as an
    attacker holding the key would)."""
    topology = redis_topology("redis")
    instances = start_instances(emulator, topology.url, tmp_path_factory.mktemp("instances-refresh-identity"), 2,
                                TOKEN_CACHE_KEYS=TEST_TOKEN_CACHE_KEY)
    yield Deployment(topology, instances)
    stop_all(instances)


def token_owners(deployment: Deployment, emulator) -> dict[str, set[str]]:
    """For every token-cache entry in Redis, decrypted: the users (oid) its tokens were issued to."""
    client = deployment.topology.node_client(deployment.topology.nodes[0])
    refresh_tokens = emulator.emulator.state.refresh_tokens
    owners: dict[str, set[str]] = {}
    for key in deployment.topology.keys("tokencache:*"):
        if key.endswith(":lock"):
            continue
        cache = json.loads(Fernet(TEST_TOKEN_CACHE_KEY).decrypt(client.get(key)))
        found = owners.setdefault(key, set())
        for section in ("AccessToken", "IdToken", "RefreshToken"):
            for entry in cache.get(section, {}).values():
                secret = entry["secret"]
                if secret in refresh_tokens:
                    found.add(refresh_tokens[secret].user_oid)
                else:
                    found.add(jwt.decode(secret, options={"verify_signature": False})["oid"])
            found |= {entry["home_account_id"].split(".")[0] for entry in cache.get(section, {}).values()}
    return owners


def test_both_instances_refuse_a_refresh_for_another_user_and_sign_the_user_in_afresh(several, new_browser, control,
                                                                                      emulator):
    control.settings(access_token_lifetime=SHORT_LIFETIME)
    client = several.topology.node_client(several.topology.nodes[0])
    OrderStore(client).create(tid=HOME_TENANT_ID, owner_oid=ADELE_OID, owner_name="Adele Vance", item=ADELE_ORDER,
                              quantity=1, note="")
    first, second = several.instances
    browser = new_browser()
    sign_in(browser, first, MEGAN, "/orders")
    assert token_owners(several, emulator) and ADELE_OID not in set().union(*token_owners(several, emulator).values())
    logs_before = [len(i.stderr) for i in several.instances]
    mark = control.last_seq()
    control.token_fault("other_user", client_id=WEB_CLIENT_ID, grant="refresh_token")

    statuses = get_all_at_once([f"{first.url}/orders", f"{second.url}/orders"] * PER_INSTANCE,
                               (SESSION_COOKIE, browser.cookie(SESSION_COOKIE)), str(emulator.ca_path), timeout=20)

    assert statuses == [302] * 2 * PER_INSTANCE, "every page load was sent to sign in; none showed a page"
    refreshes = [e for e in control.requests(mark) if e.get("grant_type") == "refresh_token"]
    assert refreshes and [e["issued"] for e in refreshes if any(i.get("oid") == ADELE_OID for i in e["issued"])], \
        "a refresh answered for Adele (otherwise this test proves nothing)"
    assert not [owners for owners in token_owners(several, emulator).values() if ADELE_OID in owners], \
        "no token of Adele's is stored"
    assert not several.topology.keys("session:*"), "the session ended"
    logs = "".join(i.stderr[start:] for i, start in zip(several.instances, logs_before))
    assert "refresh refused" in logs, "the security event is logged"
    assert not JWT_SHAPE.search(logs), "without a token"
    for instance in several.instances:
        response = browser.http.get(f"{instance.url}/orders", allow_redirects=False)
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path.endswith("/oauth2/v2.0/authorize")

    # The fresh sign-in (Entra still knows Megan) works on the other instance, and shows only hers.
    page = browser.get(f"{second.url}/orders", as_user=MEGAN)
    assert page.status_code == 200 and "Megan Bowen" in page.text
    assert "Adele" not in page.text and ADELE_ORDER not in page.text
