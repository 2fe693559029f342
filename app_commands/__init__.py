"""The app's command line (``flask --app app ...``): one module per command group."""

from __future__ import annotations

import os
import sys

from flask import Flask

# Commands that need no Redis: building the app for them must not start an embedded one.
WITHOUT_REDIS = {("entra", "check"), ("entra", "export-registrations")}


def init_app(app: Flask) -> None:
    from . import entra, orders

    app.cli.add_command(entra.group)
    app.cli.add_command(orders.group)


def running_without_redis(argv: list[str] | None = None) -> bool:
    """Whether this process is ``flask`` running one of ``WITHOUT_REDIS``.

    Flask's CLI builds the app before it even looks for the command, so
    ``create_app`` asks here: its words in order, options (and their values) aside.
    """
    argv = sys.argv if argv is None else argv
    if not argv or not (os.path.basename(argv[0]) == "flask" or argv[0].endswith(os.path.join("flask", "__main__.py"))):
        return False
    words = [a for a in argv[1:] if not a.startswith("-")]
    return any(pair in WITHOUT_REDIS for pair in zip(words, words[1:]))
