"""A discovery document that changes at run time to name an issuer we must not trust ends the trust in
every token, remembered ones included (security review of issue #16).

The validator remembers tokens it validated, keyed by an epoch that is meant to end whenever anything
deciding validity changes, the discovery document's issuer among them (jwt_validation.Epoch). The
document is refreshed in place (daily, metadata.py); here the refresh is simulated by putting the
document the provider would now answer where the app keeps it (the emulator serves one issuer per
tenant and cannot be made to change it). Before the fix, the epoch held the issuer *last checked*, so
a token seen before the change kept passing while every new one was refused.
"""

from __future__ import annotations

from localdev.external_tenant import CUSTOMERS_TENANT_ID

from .helpers import assert_invalid_token, assert_unavailable, bearer


def test_a_token_seen_before_the_discovery_changed_is_judged_by_the_new_document(make_app, tokens, emulator):
    app = make_app()
    client = app.test_client()
    token = tokens.user()
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200  # validated, and remembered
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200

    metadata = app.extensions["entra_auth"].metadata
    document = metadata.get()
    # The provider now answers an External ID tenant's issuer for this workforce authority.
    metadata._document = {**document, "issuer": f"https://{CUSTOMERS_TENANT_ID}.localhost:{emulator.port}/"
                                                f"{CUSTOMERS_TENANT_ID}/v2.0"}
    assert_unavailable(client.get("/api/orders", headers=bearer(token)), token)
    assert client.get("/readyz").status_code == 503

    metadata._document = document  # the provider's own document again: the token passes again
    assert client.get("/api/orders", headers=bearer(token)).status_code == 200
