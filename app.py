"""The Orders app: ``create_app()`` reads as its table of contents.

``gunicorn "app:create_app()"`` serves it. Nothing happens at import time.
"""

from __future__ import annotations

import atexit
import logging
import secrets
import uuid
from collections.abc import Mapping

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException

import config
from blueprints import api, health, web
from entra_auth import flask_ext

log = logging.getLogger(__name__)


def create_app(test_config: Mapping | None = None) -> Flask:
    settings = config.load_config(overrides=test_config)
    app = Flask(__name__, instance_path=str(config.INSTANCE))
    app.config.from_mapping(settings)
    if not app.config.get("SECRET_KEY"):
        # Only development/testing get here (production refuses to start without one).
        app.config["SECRET_KEY"] = secrets.token_urlsafe(32)

    flask_ext.init_app(app, _redis_url(app))
    _register_request_id(app)
    _register_error_pages(app)

    app.register_blueprint(health.bp)
    if "web" in app.config["ENABLED_BLUEPRINTS"]:
        app.register_blueprint(web.bp)
    if "api" in app.config["ENABLED_BLUEPRINTS"]:
        app.register_blueprint(api.bp)
    return app


def _redis_url(app: Flask) -> str:
    """REDIS_URL, or (development and tests only) an embedded Redis of our own."""
    if app.config.get("REDIS_URL"):
        return app.config["REDIS_URL"]
    from localdev.embedded_redis import EmbeddedRedis  # dev tooling, never imported in production

    server = EmbeddedRedis(config.INSTANCE / "redis").start()
    atexit.register(server.stop)
    app.config["REDIS_URL"] = server.url
    log.warning("REDIS_URL is unset: started an embedded Redis at %s", server.url)
    return server.url


def _register_request_id(app: Flask) -> None:
    @app.before_request
    def _assign_request_id():
        # A client-supplied id is kept only when it looks like one (no log injection).
        supplied = request.headers.get("X-Request-Id", "")
        g.request_id = supplied if _looks_like_id(supplied) else str(uuid.uuid4())

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response


def _looks_like_id(value: str) -> bool:
    return 8 <= len(value) <= 64 and all(c.isalnum() or c in "-_" for c in value)


def _register_error_pages(app: Flask) -> None:
    """HTML for pages, JSON under /api: never a stack trace."""

    def wants_json() -> bool:
        return request.path.startswith("/api/") or request.path in ("/healthz", "/readyz")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if wants_json():
            return {"error": exc.name.lower().replace(" ", "_"), "message": exc.description,
                    "request_id": g.get("request_id")}, exc.code
        return render_template("error.html", title=exc.name, message=exc.description,
                               correlation_id=g.get("request_id")), exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error (request %s)", g.get("request_id"))
        if wants_json():
            return {"error": "internal_error", "request_id": g.get("request_id")}, 500
        return render_template("error.html", title="Something went wrong",
                               message="The error was logged. Please try again.",
                               correlation_id=g.get("request_id")), 500
