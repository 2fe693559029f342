"""Every error page of the web tier: one template, one function, a way on from each.

A page says what happened in plain words, offers somewhere to go next (home,
try again, sign in as someone else) and shows the request's reference. The
HTTP errors (403, 404, 405, 429, 500, 503) get their words here; a view that
knows better (``abort(403, "This page needs the Orders.Admin role.")``) keeps
its own sentence. A 429 or 503 carries ``Retry-After`` and says the wait in
words: ``too_many_requests`` is the page for any rate limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import current_app, g, render_template, request
from werkzeug.exceptions import HTTPException


@dataclass(frozen=True)
class WayOn:
    """A link on an error page; ``sign_out`` renders the CSRF-protected sign-out button instead."""

    label: str
    href: str = "/"
    sign_out: bool = False


HOME = WayOn("Go to the home page", "/")
SWITCH_ACCOUNT = WayOn("Sign out and sign in as someone else", sign_out=True)


def try_again() -> WayOn:
    """The page the visitor asked for, as a link (a GET; a refused form is not re-sent)."""
    return WayOn("Try again", request.full_path.rstrip("?") if request.method == "GET" else request.path)


def sign_in_again(next_path: str = "/", label: str = "Sign in again") -> WayOn:
    return WayOn(label, f"/auth/login?{urlencode({'next': next_path})}" if next_path != "/" else "/auth/login")


# Plain words for the HTTP errors: (title, message). A view's own description replaces the message.
WORDS: dict[int, tuple[str, str]] = {
    400: ("This request could not be understood", "Something in the request was not right. Go back and try again."),
    403: ("You do not have access to this page",
          "Your account is signed in, but it is not allowed to see this page."),
    404: ("Page not found", "There is no page at this address. The link may be mistyped or out of date."),
    405: ("This page cannot be used that way",
          "The address exists, but not for what the browser asked of it (a form sent to a page that only "
          "shows things, for example)."),
    413: ("That was too much to send", "The request was larger than the app accepts."),
    429: ("Too many requests", "You sent more requests than the app accepts in a short time."),
    500: ("Something went wrong on our side",
          "The error was logged. Please try again; if it keeps happening, contact support with the reference below."),
    503: ("Temporarily unavailable", "The app cannot do this right now. Nothing was lost: please try again shortly."),
}


def render_error_page(status: int, title: str, message: str, *, ways_on: list[WayOn] | None = None,
                      retry_after: int | None = None, headers: dict[str, str] | None = None,
                      tone: str = "problem"):
    """The error page as a Flask response tuple; ``Retry-After`` is set and said in words when given.

    ``tone="notice"`` is for an ending that is no failure (a cancelled sign-in): not red, not an alert.
    """
    ways = ways_on if ways_on is not None else default_ways_on(status)
    body = render_template("error.html", title=title, message=message, ways_on=ways, retry_after=retry_after,
                           tone=tone,
                           wait=_in_words(retry_after) if retry_after else None, status=status,
                           correlation_id=g.get("request_id"))
    out = dict(headers or {})
    if retry_after:
        out["Retry-After"] = str(retry_after)
    return body, status, out


def default_ways_on(status: int) -> list[WayOn]:
    from entra_auth.flask_web import current_user

    if "web" not in current_app.config["ENABLED_BLUEPRINTS"]:
        return [try_again(), HOME] if status in (429, 500, 502, 503) else [HOME]  # no sign-in here
    signed_in = _signed_in(current_user)
    if status == 403:
        return [HOME, SWITCH_ACCOUNT] if signed_in else [HOME, sign_in_again(request.path)]
    if status in (429, 500, 502, 503):
        return [try_again(), HOME]
    if status == 401:
        return [sign_in_again(request.path), HOME]
    return [HOME] if signed_in else [HOME, sign_in_again(label="Sign in")]


def http_error_page(exc: HTTPException):
    """The page for a werkzeug ``HTTPException`` (``abort(...)``, routing's 404/405, a rate limiter's 429)."""
    status = exc.code or 500
    title, message = WORDS.get(status, (exc.name, "The request could not be completed."))
    if exc.description and exc.description != type(exc).description:
        message = exc.description  # the app's own sentence (never user input: views pass fixed text)
    headers = {}
    allowed = [v for k, v in exc.get_headers() if k.lower() == "allow"]
    if allowed:
        headers["Allow"] = allowed[0]  # 405 must say what is allowed (RFC 9110 §15.5.6)
    retry_after = retry_after_seconds(exc) if status in (429, 503) else None
    return render_error_page(status, title, message, retry_after=retry_after, headers=headers)


def too_many_requests(retry_after: int | None, message: str | None = None):
    """The 429 page for any rate limit: what happened, how long to wait (``Retry-After``), a way on."""
    title, default = WORDS[429]
    return render_error_page(429, title, message or default, retry_after=retry_after)


def retry_after_seconds(exc: HTTPException) -> int | None:
    """Seconds to wait, from werkzeug's ``retry_after`` (seconds or a date) or a response's header."""
    value = getattr(exc, "retry_after", None)
    if value is None and exc.response is not None:
        value = exc.response.headers.get("Retry-After")
    if isinstance(value, dt.datetime):
        return max(1, int((value - dt.datetime.now(dt.timezone.utc)).total_seconds()))
    try:
        return max(1, int(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def _in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    return f"{minutes} minutes"


def _signed_in(user) -> bool:
    try:
        return bool(user)
    except Exception:  # noqa: BLE001 - an error page must render even when the session cannot be read
        return False
