"""Production grants CORS to no plain-http origin but loopback (security review of issue #18).

A page served over plain HTTP is rewritten by anyone on its network path: with a CORS
grant, their script reads every API answer the page's token obtains. Entra gives no
such page a redirect URI anyway ("Redirect URIs must begin with the scheme https.
There are some exceptions for localhost", learn.microsoft.com/entra/identity-platform/
reply-url), so in production the entry is a mistake; SPA_API_BASE_URL is refused the same way.
"""

from __future__ import annotations

import pytest

from config import ConfigError, load_config
from tests.test_config import SAFE_PRODUCTION

from .helpers import bearer


def test_production_refuses_a_plain_http_origin():
    with pytest.raises(ConfigError, match=r"API_CORS_ORIGINS.*http://spa\.contoso\.example.*https"):
        load_config({**SAFE_PRODUCTION, "API_CORS_ORIGINS": "https://app.contoso.example,http://spa.contoso.example"})


@pytest.mark.parametrize("origin", ["http://localhost:5001", "http://127.0.0.1:3000", "https://spa.contoso.example"])
def test_production_accepts_https_and_loopback_origins(origin):
    assert load_config({**SAFE_PRODUCTION, "API_CORS_ORIGINS": origin})["API_CORS_ORIGINS"] == [origin]


def test_testing_warns_and_still_serves_the_plain_http_origin(make_app, tokens):
    app = make_app(API_CORS_ORIGINS=["http://spa.contoso.example"])
    assert any(item == "API_CORS_ORIGINS" and "production refuses it" in message
               for item, message in app.config["CONFIG_WARNINGS"])
    resp = app.test_client().get("/api/orders", headers={"Origin": "http://spa.contoso.example",
                                                         **bearer(tokens.user())})
    assert resp.headers["Access-Control-Allow-Origin"] == "http://spa.contoso.example"
