"""What the fuzz properties compare against, written from the specs rather than from the app's code."""

from __future__ import annotations

import base64
import re
from urllib.parse import unquote, urljoin, urlsplit

from werkzeug.urls import iri_to_uri

from .strategies import B64URL

APP_URL = "https://app.example/some/page?x=1"
APP_HOST = "app.example"


# -- tokens ----------------------------------------------------------------------------------------

def strict_segment(segment: str) -> bytes | None:
    """A segment's bytes under RFC 7515's base64url (no padding, URL-safe alphabet only), else None."""
    if not set(segment) <= set(B64URL) or len(segment) % 4 == 1:
        return None
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def same_signature_bytes(candidate: str, token: str) -> bool:
    """The candidate is ``token`` with its signature segment spelled differently but decoding alike."""
    head, _, signature = candidate.rpartition(".")
    genuine_head, _, genuine_signature = token.rpartition(".")
    return head == genuine_head and strict_segment(signature) == strict_segment(genuine_signature)


# -- redirect targets ------------------------------------------------------------------------------

def browser_resolve(base: str, value: str) -> str:
    """Roughly how a browser resolves a ``Location`` (WHATWG URL): C0 controls and spaces at the ends are
    stripped, tabs and newlines anywhere are dropped, and for http(s) ``\\`` is read as ``/``."""
    value = value.strip("".join(map(chr, range(0x21))))
    value = re.sub(r"[\t\n\r]", "", value).replace("\\", "/")
    return urljoin(base, value)


def assert_local(value: str) -> None:
    """A path on this app: one leading ``/``, no backslash or C0 control, not under ``/auth/``; and however
    it is resolved (``urljoin``, a browser's rules, after Werkzeug's IRI-to-URI ``Location``), on the app's host."""
    assert value.startswith("/") and not value.startswith("//"), value
    assert "\\" not in value and not any(ord(c) < 0x20 for c in value), value
    assert not value.startswith("/auth/"), value
    for resolved in (urljoin(APP_URL, value), browser_resolve(APP_URL, value),
                     browser_resolve(APP_URL, iri_to_uri(value))):
        parts = urlsplit(resolved)
        assert (parts.scheme, parts.netloc) == ("https", APP_HOST), (value, resolved)


def route_path(value: str) -> str:
    """The path the app routes once a browser follows ``value``: dot segments resolved by the browser,
    then percent-decoded by the WSGI server (PATH_INFO)."""
    return unquote(urlsplit(browser_resolve(f"https://{APP_HOST}/", iri_to_uri(value))).path)
