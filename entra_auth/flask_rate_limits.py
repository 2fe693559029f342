"""Per-client-address rate limits (Flask-Limiter), kept in our Redis: first of all on sign-in starts.

Every sign-in start writes a flow key for ten minutes (signin_flows.py). A browser
replaces its own; a client that drops its cookies adds one each time, so starts
are limited per client address: ``SIGNIN_RATE_LIMIT`` (e.g. ``20 per minute``),
one shared count for every place a sign-in starts (``/auth/login`` and an
anonymous visit to a page that needs sign-in alike). Over it: 429 with
``Retry-After``. Pending flows from one address are then at most the limit
times the flow's ten minutes.

Choices:

* The client address is ``request.remote_addr`` *after* ``ProxyFix`` (app.py), which
  takes ``X-Forwarded-For`` only from the ``TRUSTED_PROXY_HOPS`` proxies in front of
  the app (0: never), the same rule as the scheme and host of redirect URIs. A client
  cannot pick its own bucket with a forged header. IPv6 counts per /64: one host
  usually holds a whole /64 and could otherwise take a fresh address per request.
* Moving window: the limit holds over any minute (no double burst at a window edge),
  and ``Retry-After`` says when the oldest counted start leaves the window.
* Redis down: the error is raised (``swallow_errors`` off, no in-memory fallback), so the
  page is the clear 503 every other outage gets. Failing open would let the flood in
  exactly when Redis recovers; an in-memory fallback counts per worker, not per client.
* The counters use the app's own Redis client (rate_limit_storage.py), not one that
  ``limits`` would build from the URL.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass
from typing import Any

import redis
from flask import Flask, current_app, request
from flask_limiter import Limiter, RouteLimit
from limits import parse_many

from .rate_limit_storage import SCHEME

EXTENSION_KEY = "entra_auth.rate_limits"
SIGN_IN_SCOPE = "sign-in-start"  # one count for every place a sign-in starts
UNKNOWN_ADDRESS = "unknown"  # never empty: Flask-Limiter skips a limit whose key is empty (fails open)


@dataclass
class RateLimits:
    limiter: Limiter
    sign_in_starts: RouteLimit | None  # the web tier's (None in an API-only deployment)


def init_app(app: Flask, client: Any) -> RateLimits:
    """Build the app's limiter over ``client`` (redis_client.connect's); nothing connects here."""
    if EXTENSION_KEY in app.extensions:
        raise RuntimeError("rate limits are already initialised on this app")
    limiter = Limiter(
        key_func=client_address,
        storage_uri=f"{SCHEME}://",
        storage_options={"client": client},
        strategy="moving-window",
        swallow_errors=False,  # Redis down: 503 (see the module docstring)
        in_memory_fallback_enabled=False,
        headers_enabled=False,  # Retry-After on the 429 only, from too_many_requests_retry_after()
    )
    limiter.init_app(app)
    _only_explicit_checks(app, limiter)
    sign_in_starts = None
    if "web" in app.config["ENABLED_BLUEPRINTS"]:
        sign_in_limit = app.config["SIGNIN_RATE_LIMIT"]
        parse_many(sign_in_limit)  # config.py refused a bad one already; Flask-Limiter would skip it (no limit)
        sign_in_starts = limiter.shared_limit(
            sign_in_limit, scope=SIGN_IN_SCOPE,
            error_message="Too many sign-in attempts came from your network in a short time.")
    limits = RateLimits(limiter, sign_in_starts)
    app.extensions[EXTENSION_KEY] = limits
    return limits


def _only_explicit_checks(app: Flask, limiter: Limiter) -> None:
    """Drop Flask-Limiter's per-request hooks: this app checks its limits where they apply.

    Its ``before_request`` hook looks for default, application and blueprint limits on
    every request, and its ``after_request`` hook writes rate-limit headers (off here);
    this app declares none of those: a sign-in start counts itself
    (``count_sign_in_start``) and a ``@limiter.limit`` view checks in its own wrapper.
    The two hooks cost about 0.2 ms of every page (measured with ``bench/run``: the page
    and the in-process API call each paid them). Its teardown hook goes too: it resets the
    per-request state ``current_limit`` reads, which Flask-Limiter keeps on the request
    context itself (``_limiter_request_context``), an object that ends with the request;
    the reset first creates that state on every request that never had it (about 10 µs,
    twice a page). ``tests/web/test_anonymous_load.py`` checks that the hooks are gone,
    that the limits still hold and that a refusal's state does not reach the next request.
    """
    if limiter.limit_manager.default_limits or limiter.limit_manager.application_limits:
        return  # someone declared request-wide limits: they need the hook
    app.before_request_funcs[None] = [f for f in app.before_request_funcs.get(None, [])
                                      if getattr(f, "__self__", None) is not limiter]
    app.after_request_funcs[None] = [f for f in app.after_request_funcs.get(None, [])
                                     if limiter not in getattr(f, "args", ())]
    app.teardown_request_funcs[None] = [f for f in app.teardown_request_funcs.get(None, [])
                                        if getattr(f, "__self__", None) is not limiter]


def client_address() -> str:
    """The rate-limit key: the client's address by the trusted-hop rule (module docstring)."""
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return UNKNOWN_ADDRESS
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def count_sign_in_start() -> None:
    """Count one sign-in start of this client: ``RateLimitExceeded`` (429) over the limit,
    ``redis.RedisError`` when Redis is down (503)."""
    # Flask-Limiter's documented form for limiting a block inside a view: the limit is tested
    # and counted as the block is entered (one atomic Lua call in Redis).
    with current_app.extensions[EXTENSION_KEY].sign_in_starts:
        pass


def too_many_requests_retry_after() -> int:
    """Whole seconds until the limit this request broke lets the client in again."""
    limits: RateLimits | None = current_app.extensions.get(EXTENSION_KEY)
    breached = limits.limiter.current_limit if limits else None
    if breached is None:
        return 60
    try:
        return max(1, math.ceil(breached.window.reset_time - time.time()))
    except redis.RedisError:  # Redis went away since the refusal: the whole window is a safe answer
        return int(breached.limit.get_expiry())
