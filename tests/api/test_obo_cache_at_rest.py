"""An on-behalf-of cache copied in Redis to the key of another caller's token buys that caller
nothing: the API uses a cached downstream token only for the user the incoming token names.

(The cache's key is a plain hash of the incoming token, which its holder can compute; whoever can
also write Redis could otherwise copy a victim's cache there and read the victim's downstream data.)
"""

from __future__ import annotations

import logging

from entra_auth.obo import OnBehalfOf

from .helpers import ADELE, MEGAN, claims_of


def _me(client, token: str):
    return client.get("/api/me", headers={"Authorization": f"Bearer {token}"})


def test_a_copied_on_behalf_of_cache_is_not_used_for_another_user(make_app, tokens, redis_client, caplog):
    app = make_app()
    client = app.test_client()
    megan, adele = tokens.user(MEGAN), tokens.user(ADELE)
    first = _me(client, megan)
    assert first.status_code == 200 and first.get_json()["userPrincipalName"] == MEGAN, first.get_data(True)[:300]
    [megans_key] = redis_client.keys("tokencache:obo:*")
    obo = app.extensions["entra_auth"].api.obo[claims_of(megan)["tid"]]
    exchanges = obo.exchanges
    assert _me(client, megan).status_code == 200 and obo.exchanges == exchanges, "her own cache is used"
    store = obo._store
    adeles_key = store.key(OnBehalfOf.partition_of(adele))
    redis_client.set(adeles_key, redis_client.get(megans_key), ex=600)  # Megan's cache under Adele's token

    with caplog.at_level(logging.WARNING, logger="entra_auth.security"):
        answer = _me(client, adele)
    assert answer.status_code == 200, answer.get_data(True)[:300]
    assert answer.get_json()["userPrincipalName"] == ADELE, "Adele's token bought Megan's profile"
    assert obo.exchanges == exchanges + 1, "a fresh exchange for Adele"
    assert any("belongs to another user" in r.getMessage() for r in caplog.records), "a security event is logged"
