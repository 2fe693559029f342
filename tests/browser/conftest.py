"""A real browser for the end-to-end tests: Debian's Chromium driven by Playwright.

Playwright's own browser download does not work here, so the tests launch
``/usr/bin/chromium`` (installed by ``.ci/run``). Without it the tests skip,
unless ``CI`` is set: there a missing browser fails the run.

The emulator's CA is trusted the way a developer trusts it on a Linux desktop:
added as a trust anchor to an NSS database (``certutil``, Debian's
``libnss3-tools``) in the ``$HOME/.pki/nssdb`` that Chromium reads, under a
``HOME`` of the test run's own. Certificate errors are not ignored: a wrong
host name, an expired or unknown certificate still fails the page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from tests.conftest import ROOT
from tests.web.conftest import start_app  # noqa: F401  (the app over HTTPS, for the browser to visit)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
VIEWPORT = {"width": 1200, "height": 900}
# What this machine class needs: no sandbox or GPU in a container, and nothing that phones home
# (without the background-networking flags the closed network refuses connections en masse).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Playwright's launch() always starts from a fresh, temporary user-data dir (it refuses
# --user-data-dir in args), so no profile state survives from one run to the next.


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(what: str) -> None:
    if _under_ci():
        pytest.fail(f"{what}; CI is set, so the browser tests must run (.ci/run installs it)", pytrace=False)
    pytest.skip(f"{what}: browser end-to-end tests skipped (apt-get install chromium libnss3-tools, or run .ci/run)")


@pytest.fixture(scope="session")
def chromium_home(emulator, tmp_path_factory) -> Path:
    """A ``HOME`` whose NSS database trusts the emulator's CA (and nothing else of ours)."""
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"no Chromium at {CHROMIUM}")
    certutil = shutil.which("certutil")
    if certutil is None:
        _missing("no certutil (Debian package libnss3-tools) to trust the emulator's CA in Chromium")
    home = tmp_path_factory.mktemp("chromium-home")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    db = f"sql:{nssdb}"
    subprocess.run([certutil, "-N", "-d", db, "--empty-password"], check=True, capture_output=True)
    # "C,,": a trusted CA for TLS server certificates only (not e-mail, not code signing).
    subprocess.run([certutil, "-A", "-d", db, "-n", "Entra emulator test CA", "-t", "C,,", "-i",
                    str(emulator.ca_path)], check=True, capture_output=True)
    return home


@pytest.fixture(scope="session")
def chromium(chromium_home):
    """One Chromium for the whole run; each test gets its own context (cookies, storage)."""
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            env={**os.environ, "HOME": str(chromium_home)}, timeout=30_000)
    except Exception:
        playwright.stop()
        raise
    yield browser
    browser.close()
    playwright.stop()


@dataclass
class BrowserSession:
    """One user's browser window: the page, what its console said, and screenshots of each step."""

    context: BrowserContext
    page: Page
    artifacts: Path
    app_origins: set[str] = field(default_factory=set)
    console: list[tuple[str, str, str, str]] = field(default_factory=list)  # (type, page url, source url, text)
    steps: int = 0

    def screenshot(self, name: str, *, full_page: bool = True) -> Path:
        self.steps += 1
        path = self.artifacts / f"{self.steps:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def app_console_errors(self, *, allow: tuple[str, ...] = ()) -> list[str]:
        """Errors (CSP violations included) and warnings logged while one of the app's pages was shown.

        Each as ``"<type> on <page url> from <source url>: <text>"``; ``allow`` holds regular
        expressions of the ones to leave out.
        """
        found = []
        for kind, url, source, text in self.console:
            if kind not in ("error", "warning", "pageerror"):
                continue
            line = f"{kind} on {url} from {source or '-'}: {text}"
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
            if origin in self.app_origins and not any(re.search(pattern, line) for pattern in allow):
                found.append(line)
        return found


@pytest.fixture
def new_window(chromium, request):
    """Open a fresh browser window (its own cookie jar) for the app served at ``app_url``.

    Screenshots go to ``test-artifacts/browser/<test>/`` (a second window's to ``window-2/`` in it).
    """
    made: list[BrowserSession] = []
    test_dir = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(test_dir, ignore_errors=True)

    def make(app_url: str) -> BrowserSession:
        artifacts = test_dir / f"window-{len(made) + 1}" if made else test_dir
        artifacts.mkdir(parents=True, exist_ok=True)
        context = chromium.new_context(viewport=VIEWPORT, locale="en-US", base_url=app_url)
        context.set_default_timeout(10_000)
        page = context.new_page()
        window = BrowserSession(context, page, artifacts, app_origins={app_url})
        # Each message is tagged with the page shown when it came, to tell the app's pages from the emulator's.
        page.on("console", lambda msg: window.console.append((msg.type, page.url, msg.location.get("url", ""),
                                                              msg.text)))
        page.on("pageerror", lambda exc: window.console.append(("pageerror", page.url, "", str(exc))))
        made.append(window)
        return window

    yield make
    for window in made:
        window.context.close()
