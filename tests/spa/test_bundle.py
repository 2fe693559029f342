"""The single-page client's script: the real @azure/msal-browser pinned by spa/package-lock.json,
built by esbuild into static/spa/orders-spa.js, and committed so that ``./run`` needs no Node.

The committed file must be what ``npm ci && npm run build`` makes from the lockfile, byte for
byte: a change to spa/src or to the lockfile without a rebuild fails here. Node and npm are
required (.ci/run installs them): a missing toolchain fails, it is not skipped.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.conftest import ROOT
from tests.node_packages import node_with_locked_packages

SPA_DIR = ROOT / "spa"
BUNDLE = ROOT / "static" / "spa" / "orders-spa.js"


def _locked(package: str) -> dict:
    return json.loads((SPA_DIR / "package-lock.json").read_text())["packages"][f"node_modules/{package}"]


@pytest.fixture(scope="module")
def node() -> str:
    """node, with spa/'s locked dependencies installed (npm ci, once per lockfile)."""
    return node_with_locked_packages(SPA_DIR, "The SPA's build check")


def test_the_committed_bundle_is_what_the_lockfile_builds(node, tmp_path):
    rebuilt = tmp_path / "orders-spa.js"
    done = subprocess.run([node, "build.mjs", str(rebuilt)], cwd=SPA_DIR, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert rebuilt.read_bytes() == BUNDLE.read_bytes(), (
        "static/spa/orders-spa.js is not what spa/ builds: run `cd spa && npm ci && npm run build` and commit it")


def test_the_bundle_carries_the_locked_msal_browser():
    locked = _locked("@azure/msal-browser")["version"]
    declared = json.loads((SPA_DIR / "package.json").read_text())["dependencies"]["@azure/msal-browser"]
    assert declared == locked, "package.json pins the exact version the lockfile holds"
    text = BUNDLE.read_text(encoding="utf-8")
    # MSAL's own licence banner and the version it reports to Entra (x-client-VER) are in the file.
    assert f"@azure/msal-browser v{locked} " in text
    assert re.search(r'="@azure/msal-browser",\w+="' + re.escape(locked) + '"', text)


def test_the_clients_own_code_never_touches_local_storage_or_the_console():
    for source in (SPA_DIR / "src").rglob("*.js"):
        code = "\n".join(line for line in source.read_text().splitlines() if not line.lstrip().startswith("//"))
        assert "localStorage" not in code and "console." not in code, source
