"""An identity-provider outage at the discovery document's daily refresh: the last good document keeps
serving, and the refresh is retried after a cooldown, not by every request (security review of #16).

Since issue #16 every validation reads the discovery document (its issuer is checked against the
authority's kind), so a refresh that fails must not be attempted again by each request: each attempt
holds the document's lock for up to the HTTP timeout, so requests would queue behind one another
against a failing (or slow) identity provider, a request storm on it besides.
"""

from __future__ import annotations

import time

from .helpers import bearer


def _discovery_hits(control, since: int) -> int:
    return sum(1 for entry in control.requests(since) if entry["endpoint"] == "discovery")


def test_a_failed_daily_refresh_is_retried_after_a_cooldown_not_by_every_request(make_app, tokens, control):
    # Five users' tokens, each new to the app (fully validated), before the outage: MSAL needs discovery too.
    fresh = [tokens.sign_in()["access_token"] for _ in range(5)]
    app = make_app()
    client = app.test_client()
    assert client.get("/api/orders", headers=bearer(tokens.user())).status_code == 200
    metadata = app.extensions["entra_auth"].metadata
    control.fault("discovery", mode="fail", status=503, delay=0.5)  # failing, slowly
    since = control.last_seq()
    metadata._fetched_at -= 24 * 3600  # a day later: the document is due for its refresh

    started = time.monotonic()
    for token in fresh:
        assert client.get("/api/orders", headers=bearer(token)).status_code == 200  # the last good document
    assert _discovery_hits(control, since) == 1, "one refresh attempt, then a cooldown"
    assert time.monotonic() - started < 1.5, "requests do not queue behind one refresh after another"


def test_a_failed_refresh_is_retried_once_the_cooldown_passed(make_app, tokens, control):
    token = tokens.user()
    app = make_app()
    client = app.test_client()
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200
    metadata = app.extensions["entra_auth"].metadata
    control.fault("discovery", mode="fail", status=503)
    metadata._fetched_at -= 24 * 3600
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200
    assert control.http.delete(f"{control.base}/faults").status_code == 204
    since = control.last_seq()
    metadata._retry_at = 0.0  # the cooldown passed
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200
    assert _discovery_hits(control, since) == 1, "refreshed once the identity provider answered again"
    assert time.monotonic() - metadata._fetched_at < 60, "the fresh document is kept for another day"
