"""Logging for the whole process: JSON lines in production, readable lines in development.

``init_app(app)`` (called once from ``create_app``) puts one handler on the
root logger, so every logger (ours, Flask's, MSAL's, urllib3's) goes through
it. ``LOG_FORMAT`` picks the shape:

* ``json`` (production): one JSON object per line, with ``time``, ``level``,
  ``logger``, ``message``, the request's ``request_id``, the signed-in user's
  ``oid``/``tid`` when known, Entra's ``correlation_id``/``trace_id`` when the
  record carries them, and ``exception`` (the traceback) when there is one.
  A newline inside a message stays inside its JSON string: one event, one line,
  and a forged log line cannot be smuggled in through a header value.
* ``text`` (development): ``time level logger [request id] message``.
* ``none`` (tests): logging is left to the test runner.

Whatever the format, ``RedactingFilter`` scrubs every record the handler
emits of anything that looks like a token or a secret (JWTs, ``client_secret=``
and the other OAuth secret fields, ``Authorization: Bearer ...``, private key
blocks). Nothing should ever log one; this is the last line of defence.

A second ``init_app`` (tests build many apps in one process) replaces the
handler instead of adding another.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import Any

from flask import Flask, g, has_app_context, has_request_context
from flask.globals import request_ctx

HANDLER_MARK = "_orders_app_handler"
REDACTED = "[redacted]"

# Three (or, for JWE, five) base64url segments, the first a JSON object ("eyJ" is base64 of '{"'). A
# lone such segment is redacted too: a token's payload alone is as telling as the whole token.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}(?:\.[A-Za-z0-9_-]*){0,4}")
# name=value, name: value, "name": "value" for the fields that carry secrets in OAuth and MSAL traffic.
_SECRET_FIELDS = (r"client_secret|client_assertion|assertion|refresh_token|access_token|id_token|code_verifier|"
                  r"password|passphrase|secret|identity_header|x-identity-header|x_identity_header")
# redact() runs on the record and again on the formatted line: it stays idempotent, and leaves
# values MSAL already masked ("********") alone, so the filter's count means "something leaked".
_NOT_DONE = r"(?!\[redacted\]|\*{3,})"
_FIELD = re.compile(rf"(?i)((?<![\w-])(?:{_SECRET_FIELDS})[\"']?\s*[=:]\s*[\"']?){_NOT_DONE}([^\"'&\s,;}}\]]+)")
# MSAL at DEBUG logs its token request, authorization code included, as JSON ("code": "...").
_CODE_IN_JSON = re.compile(rf"(?i)([\"']code[\"']\s*:\s*[\"']){_NOT_DONE}([^\"']+)")
_CODE_IN_URL = re.compile(rf"(?i)([?&#](?:code|session_state)=){_NOT_DONE}([^&\s\"']+)")
_AUTHORIZATION = re.compile(
    rf"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?>(?:(?:bearer|basic|pop)\s+)?)){_NOT_DONE}([^\s\"',;}}]+)")
_BEARER = re.compile(r"(?i)(\bbearer\s+)([A-Za-z0-9._~+/-]{20,}=*)")  # a bare "Bearer <token-like>"
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S)
_CORRELATION = re.compile(r"\b(correlation_id|trace_id)=([0-9A-Fa-f-]{8,64})\b")


def redact(text: str) -> str:
    """``text`` without anything that looks like a token or a secret value."""
    if not text:
        return text
    text = _PRIVATE_KEY.sub("-----[redacted private key]-----", text)
    text = _JWT.sub(REDACTED, text)
    text = _AUTHORIZATION.sub(rf"\1{REDACTED}", text)
    text = _BEARER.sub(rf"\1{REDACTED}", text)
    text = _CODE_IN_URL.sub(rf"\1{REDACTED}", text)
    text = _CODE_IN_JSON.sub(rf"\1{REDACTED}", text)
    return _FIELD.sub(rf"\1{REDACTED}", text)


class RedactingFilter(logging.Filter):
    """Scrubs the message, the traceback and the stack of each record; counts what it had to scrub.

    The record is changed in place (Python 3.11 filters cannot hand back a copy),
    so handlers after this one see the scrubbed record too.
    """

    _formatter = logging.Formatter()

    def __init__(self) -> None:
        super().__init__()
        self.redactions = 0  # > 0 means some code logged a secret: a bug to fix, even though it was caught

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        clean = redact(message)
        if clean != message:
            self.redactions += 1
        record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            clean = redact(record.exc_text)
            self.redactions += clean != record.exc_text
            record.exc_text = clean
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def request_fields() -> dict[str, str]:
    """The request id and the caller's ``oid``/``tid``, when a request (or app context) is active.

    Reads only what the request already loaded (``g``, the opened session): a
    log line never costs a Redis call or a token validation.
    """
    if not has_app_context():
        return {}
    fields: dict[str, str] = {}
    request_id = g.get("request_id")
    if request_id:
        fields["request_id"] = str(request_id)
    claims: Any = None
    user = g.get("entra_user")  # the web tier's signed-in user (entra_auth.flask_web)
    if user is not None:
        claims = user.claims
    elif g.get("entra_token") is not None:  # the API tier's validated bearer token (entra_auth.flask_protect)
        claims = getattr(g.entra_token, "claims", None)
    elif has_request_context():
        session = request_ctx.session
        # dict.get: reading must not mark the session as accessed (that would add Vary: Cookie).
        claims = dict.get(session, "claims") if isinstance(session, dict) else None
    if isinstance(claims, dict):
        for name in ("oid", "tid"):
            if claims.get(name):
                fields[name] = str(claims[name])
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        payload: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        payload.update(request_fields())
        # Entra's ids for a support case: as attributes (logger.error(..., extra={...})) or in the text.
        for name, value in _CORRELATION.findall(message):
            payload.setdefault(name, value)
        for name in ("correlation_id", "trace_id"):
            value = getattr(record, name, None)
            if value:
                payload[name] = str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = record.stack_info
        return redact(json.dumps(payload, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """``time level logger [request id] message``: for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(context)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = request_fields()
        context = " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]" if fields else ""
        record.context = context
        try:
            return redact(super().format(record))
        finally:
            del record.context


def init_app(app: Flask) -> None:
    """Configure the process's logging from ``LOG_FORMAT``/``LOG_LEVEL``; log the configuration warnings."""
    fmt = str(app.config.get("LOG_FORMAT") or "none").lower()
    if fmt not in ("json", "text", "none"):
        raise ValueError(f"LOG_FORMAT must be json, text or none (got {fmt[:20]!r})")
    if fmt != "none":
        install(fmt, str(app.config.get("LOG_LEVEL") or "INFO"))
    # In every environment: a warning seen on a laptop is one a deployment will not repeat.
    config_log = logging.getLogger("config")
    for item, message in app.config.get("CONFIG_WARNINGS") or []:
        config_log.warning("configuration warning (%s): %s", item, message)


def install(fmt: str = "json", level: str | int = "INFO", stream=None) -> logging.Handler:
    """Put our handler (and only one) on the root logger and set the root level."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    setattr(handler, HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler


def installed_handler() -> logging.Handler | None:
    return next((h for h in logging.getLogger().handlers if getattr(h, HANDLER_MARK, False)), None)


def uninstall() -> None:
    """Remove our handler (tests)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, HANDLER_MARK, False)]:
        root.removeHandler(old)
