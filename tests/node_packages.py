"""``node``, with a folder's npm dependencies installed exactly as its lockfile pins them.

Used by the checks that need a Microsoft JavaScript library (MSAL Node interop, the SPA's MSAL.js
bundle). They fail, never skip, without Node: .ci/run installs it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest


def node_with_locked_packages(folder: Path, needed_for: str) -> str:
    """The path of ``node`` once ``npm ci`` has installed ``folder``'s lockfile (again only when it changed)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail(f"{needed_for} needs `node` (>= 20) and `npm` on PATH; install them (Debian: apt-get install "
                    "nodejs npm, as .ci/run does).")
    stamp = folder / "node_modules" / ".installed-lock-sha256"
    lock = hashlib.sha256((folder / "package-lock.json").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != lock:
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=folder, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        stamp.write_text(lock)
    return node
