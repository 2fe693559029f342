"""The Orders app: ``create_app()`` reads as its table of contents.

``gunicorn "app:create_app()"`` serves it. Nothing happens at import time,
and nothing at start-up talks to Redis or the identity provider.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import secrets
import uuid
from collections.abc import Mapping

import redis
from flask import Flask, g, request
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

import app_commands
import config
import csrf_tokens
import http_hardening
import logging_setup
from blueprints import api, auth, error_pages, health, spa, web, web_errors
from entra_auth import flask_api_cors, flask_ext, flask_rate_limits
from entra_auth.flask_web import current_user

log = logging.getLogger(__name__)

NO_REDIS_URL = "redis://no-redis-for-this-command.invalid:6379/0"


def create_app(test_config: Mapping | None = None) -> Flask:
    settings = config.load_config(overrides=test_config)
    app = Flask(__name__, instance_path=str(config.INSTANCE))
    # No routing redirects for "//": werkzeug would answer them itself, in HTML, with a
    # Location built from the Host header. A doubled slash is simply a 404 (JSON under /api).
    app.url_map.merge_slashes = False
    app.config.from_mapping(settings)
    logging_setup.init_app(app)  # JSON lines in production, redacted everywhere; logs the configuration warnings
    if not app.config.get("SECRET_KEY"):
        # Only development/testing get here (production refuses to start without one).
        app.config["SECRET_KEY"] = secrets.token_urlsafe(32)
    _trust_proxy_hops(app)

    # Order matters: before-request hooks run as registered (request id, then the session
    # guard, then CSRF), so every answer, even a refused form, carries its reference.
    _register_request_id(app)
    state = flask_ext.init_app(app, _redis_url(app), _token_cache_keys(app))
    flask_rate_limits.init_app(app, state.redis)  # per-address limits (sign-in starts), counted in the same Redis
    if "web" in app.config["ENABLED_BLUEPRINTS"]:
        web_errors.guard_session(app)
    http_hardening.init_app(app)
    csrf = CSRFProtect(app)
    csrf_tokens.init_app(app)  # a page's token signed once per session secret, not per page
    _register_error_pages(app)

    app.register_blueprint(health.bp)
    if "web" in app.config["ENABLED_BLUEPRINTS"]:
        app.register_blueprint(auth.bp)
        app.register_blueprint(web.bp)
        web_errors.register(app)
        csrf.exempt(auth.callback)  # Entra's cross-site form_post: bound by state + the sign-in cookie instead
    if app.config.get("SPA_CLIENT_ID"):
        app.register_blueprint(spa.bp)  # the single-page client's page (its own public registration)
    if "api" in app.config["ENABLED_BLUEPRINTS"]:
        app.register_blueprint(api.bp)
        csrf.exempt(api.bp)  # bearer tokens, no cookies: nothing for a cross-site form to ride on
        flask_api_cors.init_app(app)  # API_CORS_ORIGINS only (a SPA on another origin)
    _register_template_helpers(app)
    app_commands.init_app(app)
    return app


def _trust_proxy_hops(app: Flask) -> None:
    """Honour X-Forwarded-* from exactly the configured number of proxies (0: none)."""
    hops = int(app.config["TRUSTED_PROXY_HOPS"])
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def _redis_url(app: Flask) -> str:
    """REDIS_URL, or (development and tests only) the embedded Redis of ``instance/redis``:
    the one already running there (``./run``'s) if any, else one of our own, never a second."""
    if app.config.get("REDIS_URL"):
        return app.config["REDIS_URL"]
    if app_commands.running_without_redis():
        # `flask entra check` / `export-registrations`: nothing to start; a use would fail naming this host.
        return NO_REDIS_URL
    from localdev.shared_redis import attach_or_start  # dev tooling, never imported in production

    server = attach_or_start(config.INSTANCE / "redis")
    atexit.register(server.stop)
    app.config["REDIS_URL"] = server.url
    log.warning("REDIS_URL is unset: %s", server.describe())
    return server.url


def _token_cache_keys(app: Flask) -> list[str]:
    """TOKEN_CACHE_KEYS, or (development and tests only) a local key kept under instance/."""
    if app.config.get("TOKEN_CACHE_KEYS"):
        return list(app.config["TOKEN_CACHE_KEYS"])
    from localdev.dev_keys import development_token_cache_key  # production requires TOKEN_CACHE_KEYS

    return [development_token_cache_key(config.INSTANCE, persist=app.config["APP_ENV"] == "development")]


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


def _register_template_helpers(app: Flask) -> None:
    web_enabled = "web" in app.config["ENABLED_BLUEPRINTS"]

    @app.context_processor
    def _identity():
        return {"web_enabled": web_enabled, "current_user": current_user if web_enabled else None}

    @app.template_filter("datetime")
    def _datetime(value: int) -> str:
        return dt.datetime.fromtimestamp(value, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _register_error_pages(app: Flask) -> None:
    """HTML for pages, JSON under /api: never a stack trace."""

    def wants_json() -> bool:
        return request.path.startswith("/api/") or request.path in ("/healthz", "/readyz")

    def unavailable():
        if wants_json():
            return {"error": "temporarily_unavailable", "request_id": g.get("request_id")}, 503, {"Retry-After": "5"}
        return error_pages.render_error_page(
            503, "Temporarily unavailable",
            "The app cannot reach its session store right now. Please try again shortly.", retry_after=5)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_pages.render_error_page(
            400, "This form has expired", "The form was missing its security token or it no longer matches your "
                                          "session. Go back, reload the page and try again.")

    @app.errorhandler(RateLimitExceeded)
    def _too_many_requests(exc: RateLimitExceeded):
        retry_after = flask_rate_limits.too_many_requests_retry_after()
        headers = {"Retry-After": str(retry_after)}
        if wants_json():
            return {"error": "too_many_requests", "message": exc.description, "retry_after": retry_after,
                    "request_id": g.get("request_id")}, 429, headers
        return error_pages.too_many_requests(retry_after, message=exc.description)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        original = getattr(exc, "original_exception", None)
        if isinstance(exc, InternalServerError) and isinstance(original, redis.RedisError):
            # Raised while saving the session, after the view: still an outage, not a bug.
            log.error("Redis failed while finishing the request (request %s)", g.get("request_id"))
            return unavailable()
        if isinstance(exc, InternalServerError) and original is not None:
            log.error("unhandled error (request %s)", g.get("request_id"), exc_info=original)
        if wants_json():
            # The headers the status needs (Allow on a 405, Retry-After on a 429/503) stay on the JSON answer.
            kept = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
            return {"error": exc.name.lower().replace(" ", "_"), "message": exc.description,
                    "request_id": g.get("request_id")}, exc.code, kept
        return error_pages.http_error_page(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error (request %s)", g.get("request_id"))
        if wants_json():
            return {"error": "internal_error", "request_id": g.get("request_id")}, 500
        return error_pages.render_error_page(500, *error_pages.WORDS[500])
