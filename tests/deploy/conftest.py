"""Fixtures of the deployment tests: the web tier's live HTTPS app and browser (tests/web),
the App Service-style managed-identity environment (tests/emulator), and helpers to read
the emulator's request log."""

from __future__ import annotations

import base64
import os
import re
import secrets
from urllib.parse import urlsplit

import pytest

from tests.emulator.conftest import managed_identity_env  # noqa: F401 - fixture
from tests.web.conftest import live, new_browser, start_app, user_browser  # noqa: F401 - fixtures

MEGAN = "megan@contoso.example"
MEGAN_OID = "a0000001-0000-4000-8000-000000000001"
OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def strong_secret_key() -> str:
    return secrets.token_urlsafe(48)


def fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def token_requests(control, since: int = 0) -> list[dict]:
    return [e for e in control.requests(since) if e["endpoint"] == "token"]


def obo_requests(control, since: int = 0) -> list[dict]:
    return [e for e in token_requests(control, since) if e.get("grant_type") == OBO_GRANT]


@pytest.fixture
def restore_logging():
    """Put the root logger back as the test found it (logging_setup changes process-wide state)."""
    import logging

    import logging_setup

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    logging_setup.uninstall()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.I)


def assert_hardened(response, *, static: bool = False, frameable_by: str | None = None, hsts: bool = False) -> None:
    """The headers every response carries; what a browser enforces from them."""
    where = f"{response.request.method} {urlsplit(response.url).path} -> {response.status_code}"
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())
    assert directives.get("default-src") == "'self'" and directives.get("script-src") == "'self'", where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert directives.get("object-src") == "'none'" and directives.get("base-uri") == "'none'", where
    if frameable_by:
        assert directives.get("frame-ancestors") == frameable_by, where
    else:
        assert directives.get("frame-ancestors") == "'none'" and headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin"), where
    if not static:
        assert "no-store" in headers.get("Cache-Control", ""), where
    if hsts:
        assert re.fullmatch(r"max-age=(\d+); includeSubDomains", headers.get("Strict-Transport-Security", "")), where
        assert int(headers["Strict-Transport-Security"].split("=")[1].split(";")[0]) >= 31536000
    else:
        assert "Strict-Transport-Security" not in headers, where
    if "text/html" in headers.get("Content-Type", ""):
        assert not INLINE.search(response.text), f"{where}: inline script/style would be blocked by the CSP"
