"""The app's command line (``flask --app app ...``): one module per command group."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import entra, orders

    app.cli.add_command(entra.group)
    app.cli.add_command(orders.group)
