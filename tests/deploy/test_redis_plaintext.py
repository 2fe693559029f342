"""Production refuses a Redis reached in clear over the network, unless told the network is private
(``REDIS_ALLOW_PLAINTEXT=true``); TLS, a Unix socket and loopback servers need nothing."""

from __future__ import annotations

import pytest

import config

from .test_posture import REDIS_PASSWORD, SAFE, SECRET_VALUES, _refusal

CLEAR = f"redis://:{REDIS_PASSWORD}@cache.contoso.example:6379/0"


@pytest.mark.parametrize("url", [CLEAR, "redis+cluster://10.0.0.4:6379,10.0.0.5:6379",
                                 "redis+cluster://127.0.0.1:7000,10.0.0.5:7001",  # one remote node is enough
                                 "redis+sentinel://10.0.0.4:26379/orders"])
def test_production_refuses_a_clear_text_redis(url):
    error = _refusal({**SAFE, "REDIS_URL": url})
    assert str(error).startswith("Refusing to start (production): ")
    [(status, message)] = [(s, m) for s, i, m in error.report if i == "REDIS_URL"]
    assert status == "fail" and "is not TLS" in message
    assert "rediss://" in message and "REDIS_ALLOW_PLAINTEXT=true" in message, "it says how to fix it"
    for value in SECRET_VALUES:
        assert value not in str(error)


def test_a_private_network_is_allowed_when_said_so_with_a_warning():
    settings = config.load_config({**SAFE, "REDIS_URL": CLEAR, "REDIS_ALLOW_PLAINTEXT": "true"})
    [(item, message)] = settings["CONFIG_WARNINGS"]
    assert item == "REDIS_URL" and "is not TLS" in message and "REDIS_ALLOW_PLAINTEXT=true" in message
    assert REDIS_PASSWORD not in message


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", f"redis://:{REDIS_PASSWORD}@localhost:6379/0",
                                 "redis://[::1]:6379/0", "redis+cluster://127.0.0.1:7000,127.0.0.1:7001",
                                 "unix:///var/run/redis/redis.sock", "rediss://cache.contoso.example:6380/0"])
def test_loopback_a_socket_and_tls_need_no_permission(url):
    settings = config.load_config({**SAFE, "REDIS_URL": url})
    assert settings["CONFIG_WARNINGS"] == []
    [(status, _)] = [(s, m) for s, i, m in config.posture(settings) if i == "REDIS_URL"]
    assert status == "ok"


def test_the_permission_is_a_clear_yes_or_no():
    error = _refusal({**SAFE, "REDIS_URL": CLEAR, "REDIS_ALLOW_PLAINTEXT": "maybe"})
    assert "REDIS_ALLOW_PLAINTEXT" in str(error)


def test_development_only_warns():
    settings, errors = config.parse_environment({"ENTRA_CA_BUNDLE": __file__, "REDIS_URL": CLEAR})
    assert errors == [] and settings["APP_ENV"] == "development"
    [(status, message)] = [(s, m) for s, i, m in config.posture(settings) if i == "REDIS_URL"]
    assert status == "warn" and message.endswith("(allowed in development; production refuses it)")
