"""The emulator's External ID issuer shape (``https://<tid>.<authority host>/<tid>/v2.0``) is accepted only
for an authority that production refuses as the local emulator (security review of issue #16).

authorities.py adds that shape for a "local" authority host; config.py's emulator rule refuses a local
host in production. Both must mean the same hosts, or a production authority on a name such as
``127.0.0.1.nip.io`` (public DNS, answering loopback) would be judged by the emulator's rule: an issuer
on any ``<tid>.`` sub-host of it would be trusted, and production would not have refused it.
"""

from __future__ import annotations

import pytest

import config
from entra_auth.authorities import Authority, check_discovery_issuer, is_local_host
from entra_auth.errors import UntrustedDiscovery
from tests.external.test_authority_settings import CIAM_PRODUCTION, TID

NOT_LOOPBACK_NAMES = ["127.0.0.1.nip.io", "127.example.com", "127.0.0.1.evil.example"]


@pytest.mark.parametrize("host", NOT_LOOPBACK_NAMES)
def test_a_name_that_merely_starts_with_127_gets_no_emulator_issuer_shape(host):
    authority = Authority.parse(f"https://{host}/{TID}", "ciam")
    with pytest.raises(UntrustedDiscovery, match="discovery issuer"):
        check_discovery_issuer(f"https://{TID}.{host}/{TID}/v2.0", authority, [TID])
    settings, report = config.environment_posture({**CIAM_PRODUCTION, "ENTRA_AUTHORITY": f"https://{host}/{TID}",
                                                   "ENTRA_AUTHORITY_KIND": "ciam"})
    [accepted] = [message for _, item, message in report if item == "accepted issuer"]
    assert f".{host}/" not in accepted, accepted  # what `flask entra check` tells the operator


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.1.2.3", "::1", "emulator.localhost",
                                  *NOT_LOOPBACK_NAMES, "login.microsoftonline.com", "woodgrove.ciamlogin.com"])
def test_every_host_with_the_emulator_shape_is_refused_in_production(host):
    if is_local_host(host):
        netloc = f"[{host}]" if ":" in host else host
        _, report = config.environment_posture({**CIAM_PRODUCTION, "ENTRA_AUTHORITY": f"https://{netloc}/{TID}",
                                                "ENTRA_AUTHORITY_KIND": "ciam"})
        assert ("fail", "emulator") in {(status, item) for status, item, _ in report}, host


def test_the_local_emulator_keeps_its_shape():
    authority = Authority.parse(f"https://localhost:5443/{TID}", "ciam")
    assert check_discovery_issuer(f"https://{TID}.localhost:5443/{TID}/v2.0", authority, [TID])
