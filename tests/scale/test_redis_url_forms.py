"""REDIS_URL's forms as written by operators (the servers behind them are in test_several_instances.py
and tests/faults/): hosts, ports and IPv6 literals of a node list, and what the production posture says."""

from __future__ import annotations

import pytest

import config
from entra_auth.redis_client import ClusterClient, _hosts, connect
from tests.test_config import SAFE_PRODUCTION


@pytest.mark.parametrize(("netloc", "default", "hosts"), [
    ("cache.example:6380", 6379, [("cache.example", 6380)]),
    ("user:p%40ss@10.0.0.4:7000,10.0.0.5", 6379, [("10.0.0.4", 7000), ("10.0.0.5", 6379)]),
    ("[::1]:26380, [fd00::5], sentinel-c", 26379, [("::1", 26380), ("fd00::5", 26379), ("sentinel-c", 26379)]),
])
def test_node_lists(netloc, default, hosts):
    assert _hosts(netloc, default) == hosts


def test_a_cluster_url_gives_a_cluster_client_that_connects_on_first_use():
    client = connect("redis+cluster://127.0.0.1:1,127.0.0.1:2")  # nothing listens there: no error yet
    assert isinstance(client, ClusterClient)


def test_a_sentinel_url_names_its_service():
    with pytest.raises(ValueError, match="names the service"):
        connect("redis+sentinel://127.0.0.1:26379")


@pytest.mark.parametrize("url", ["rediss+cluster://a.example:6380,b.example:6380",
                                 "rediss+sentinel://s1.example:26379,s2.example:26379/orders"])
def test_production_does_not_call_a_tls_cluster_or_sentinel_url_clear_text(url):
    settings = config.load_config({**SAFE_PRODUCTION, "REDIS_URL": url})
    [item] = [i for i in config.posture(settings) if i[1] == "REDIS_URL"]
    assert item[0] == "ok", item


def test_production_warns_about_a_clear_text_cluster_url():
    """The control of the test above: the warning exists, for what really is clear text."""
    settings = config.load_config({**SAFE_PRODUCTION, "REDIS_URL": "redis+cluster://10.0.0.4:6379,10.0.0.5:6379",
                                   "REDIS_ALLOW_PLAINTEXT": "true"})  # without it production refuses it
    [item] = [i for i in config.posture(settings) if i[1] == "REDIS_URL"]
    assert item[0] == "warn" and "is not TLS" in item[2]
