"""Logging: JSON lines in production, readable lines in development, never a secret.

- `logging_config(level, fmt)` is the one `dictConfig` for the app and for
  uvicorn (`authapi serve` passes it to `uvicorn.run`, which applies it again
  in every `--workers` child): everything goes to stderr through one formatter.
- `JsonFormatter` writes one object per line: `time` (ISO 8601 UTC), `level`,
  `logger`, `message`, `request_id` (inside a request), any `extra=` fields and
  `exception`. `ConsoleFormatter` writes the same as one readable line.
- Both pass everything through `redact` (text) and `redact_value` (extras):
  values of sensitive keys, JWTs, Bearer/Basic credentials, Fernet tokens and
  URL passwords become `[REDACTED]`, whoever logged them (uvicorn, a library).
- Neither lets logged text start a line of its own: control characters (a
  `%0a` in a path, say) are written as escapes, and the lines of a traceback
  are marked as its continuation, so no request can forge a log record.
- Each request gets an id (a sane `X-Request-ID` from the client, else a new
  uuid4 hex, `accepted_request_id`), echoed and kept in `request_id_var`, and one
  access line on `authapi.access` with the route template, never the query
  string (`log_access`; uvicorn's own access log, which prints it, is off), both
  from the outermost layer, authapi.middleware.Edge. An error nothing handled is
  answered inside it, so that 500 carries the id and is counted like any other.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import uuid
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

from starlette.requests import HTTPConnection
from starlette.types import Scope

from authapi.clientip import client_ip
from authapi.settings import IPNetwork

LogFormat: TypeAlias = Literal["json", "console"]

REDACTED = "[REDACTED]"
SENSITIVE_KEYS = frozenset(
    {
        "password",
        "new_password",
        "current_password",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "mfa_token",
        "code",
        "state",
        "nonce",
        "code_verifier",
        "client_secret",
        "secret",
        "recovery_code",
        "recovery_codes",
        "cookie",
        "set_cookie",
        "authorization",
    }
)

# --- redaction -------------------------------------------------------------------------
# any sensitive key as a whole word, `_` or `-` between its parts
_KEY = r"(?<![\w-])(?:{})(?![\w-])".format(
    "|".join(key.replace("_", "[-_]") for key in sorted(SENSITIVE_KEYS, key=len, reverse=True))
)
_QUOTED = r"""b?"(?:[^"\\]|\\.)*"|b?'(?:[^'\\]|\\.)*'"""
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # JSON and Python reprs: "key": value, ('key', value) — a string, a list or a scalar
    (
        re.compile(
            rf"""(?P<k>(["']){_KEY}\2\s*[:,]\s*)(?:{_QUOTED}|\[[^\]]*\]|[^\s,}}\])]+)""", re.I
        ),
        rf'\g<k>"{REDACTED}"',
    ),
    # header lines: the rest of the line
    (
        re.compile(r"(?P<k>(?<![\w-])(?:authorization|set-cookie|cookie)\s*:\s*)[^\r\n]+", re.I),
        rf"\g<k>{REDACTED}",
    ),
    # query strings and form bodies: key=value up to the next & (or space or quote)
    (re.compile(rf"(?P<k>{_KEY}=)[^&\s\"']+", re.I), rf"\g<k>{REDACTED}"),
    # credentials wherever they stand
    (re.compile(r"(?P<k>\b(?:bearer|basic)\s+)[^\s\"',;]+", re.I), rf"\g<k>{REDACTED}"),
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"gAAAAA[A-Za-z0-9_-]+=*"), REDACTED),
    (re.compile(r"(?P<k>://[^\s/:@]+:)[^\s/@]+@"), rf"\g<k>{REDACTED}@"),
]


# every pattern above needs one of these: text without any (most fields of an access
# line) is returned at once, which keeps a log line's cost small on the hot paths
_MAYBE_SECRET = re.compile(r"[\"':=]|eyJ|gAAAAA|bearer|basic", re.I)


def redact(text: str) -> str:
    """`text` with every secret-looking value replaced by [REDACTED]."""
    if _MAYBE_SECRET.search(text) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """A JSON-ready copy of `value`: sensitive keys' values replaced, strings redacted."""
    if isinstance(value, Mapping):
        return {
            str(key): REDACTED if _sensitive(key) else redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
        return [redact_value(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(value if isinstance(value, str) else str(value))


def _sensitive(key: object) -> bool:
    return str(key).lower().replace("-", "_") in SENSITIVE_KEYS


# --- control characters ------------------------------------------------------------------
# C0 and C1 controls and the Unicode line and paragraph separators: each ends or redraws
# a line somewhere (a terminal, `less`, a log viewer)
_LINE_BREAKERS = [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]
_ESCAPED = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _LINE_BREAKERS}
_ESCAPED.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})
# inside JSON strings: json.dumps already escapes C0 controls, not the others
_JSON_ESCAPED = {code: f"\\u{code:04x}" for code in _LINE_BREAKERS if code >= 0x7F}


def escape_controls(text: str) -> str:
    """`text` on one line: every control character written as an escape (`\\n`, `\\x1b`)."""
    return text.translate(_ESCAPED)


def _continuation(text: str) -> str:
    """A traceback's lines, each marked as part of the record above it."""
    return "".join(f"\n  | {escape_controls(line)}" for line in text.splitlines())


# --- formatters ------------------------------------------------------------------------
request_id_var: ContextVar[str | None] = ContextVar("authapi_request_id", default=None)

# what every LogRecord carries (and uvicorn's color_message); the rest came from `extra=`
_BLANK_RECORD = logging.LogRecord("", 0, "", 0, "", None, None)
_RECORD_FIELDS = frozenset(
    [*vars(_BLANK_RECORD), "message", "asctime", "taskName", "color_message"]
)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: REDACTED if _sensitive(key) else redact_value(value)
        for key, value in record.__dict__.items()
        if key not in _RECORD_FIELDS and key != "request_id" and not key.startswith("_")
    }


def _request_id(record: logging.LogRecord) -> str | None:
    """The record's own (the access line carries it), else the current request's."""
    carried = getattr(record, "request_id", None)
    return str(carried) if carried is not None else request_id_var.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module docstring for the fields)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = _request_id(record)
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in _extras(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str).translate(_JSON_ESCAPED)


class ConsoleFormatter(logging.Formatter):
    """`2026-01-02 10:00:00,123 INFO    authapi.access [<request id>]: message key=value …`"""

    def format(self, record: logging.LogRecord) -> str:
        request_id = _request_id(record)
        message = escape_controls(redact(record.getMessage()))
        line = (
            f"{self.formatTime(record)} {record.levelname:<7} {record.name}"
            f"{f' [{request_id}]' if request_id else ''}: {message}"
        )
        words = message.split()
        for key, value in _extras(record).items():
            if str(value) in words:
                continue  # the message shows it already (the access line's method, route, status)
            shown = value if isinstance(value, int | float) else json.dumps(value, default=str)
            line += f" {key}={shown}"
        if record.exc_info:
            line += _continuation(redact(self.formatException(record.exc_info)))
        if record.stack_info:
            line += _continuation(redact(self.formatStack(record.stack_info)))
        return line


FORMATTERS: dict[LogFormat, type[logging.Formatter]] = {
    "json": JsonFormatter,
    "console": ConsoleFormatter,
}


def logging_config(level: str, fmt: LogFormat) -> dict[str, Any]:
    """The `dictConfig` of `authapi serve`, for the app and uvicorn alike.

    Only strings inside (the formatter is named by its import path), so uvicorn can
    hand it to `--workers` children, which apply it again.
    """
    formatter = FORMATTERS[fmt]
    return {
        "version": 1,
        "disable_existing_loggers": False,  # module loggers exist before this runs
        "formatters": {
            "authapi": {"class": f"{formatter.__module__}.{formatter.__qualname__}"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "authapi",
                "stream": "ext://sys.stderr",
            },
        },
        # Libraries log at INFO at most, whatever the level: at DEBUG some print what they
        # carry (aiosqlite every SQL statement with its parameters: password hashes, token
        # hashes, encrypted secrets). `debug` is for authapi's own lines and uvicorn's.
        "root": {"level": _at_most_verbose(level, "INFO"), "handlers": ["stderr"]},
        "loggers": {
            "authapi": {"level": level.upper()},
            # uvicorn's loggers carry no handlers of their own: they reach the root's
            "uvicorn": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            # its access lines print query strings; authapi.middleware.Edge writes ours
            "uvicorn.access": {"handlers": [], "propagate": False},
            # Alembic narrates its set-up at INFO; `authapi migrate` reports the outcome itself.
            "alembic": {"level": "WARNING"},
        },
    }


def _at_most_verbose(level: str, floor: str) -> str:
    """`level`, or `floor` if `level` would let more through."""
    chosen, limit = logging.getLevelName(level.upper()), logging.getLevelName(floor)
    return str(logging.getLevelName(max(chosen, limit)))


def configure_logging(level: str, fmt: LogFormat) -> None:
    logging.config.dictConfig(logging_config(level, fmt))
    logging.captureWarnings(True)  # warnings too, so every line on stderr has the format


# --- request context ---------------------------------------------------------------------
REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_log = logging.getLogger("authapi.access")


def route_of(scope: Scope) -> str:
    """The route template that served the request, or its bare path if none matched."""
    return getattr(scope.get("route"), "path", None) or str(scope["path"])


def accepted_request_id(value: str | None) -> str:
    """The client's X-Request-ID if it is 1 to 128 of [A-Za-z0-9._:-], else a new one."""
    if value is not None and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def log_access(
    scope: Scope,
    request_id: str,
    status: int,
    seconds: float,
    *,
    trusted_proxies: Sequence[IPNetwork],
    proxy_header: str,
) -> None:
    """The request's access line (written by authapi.middleware.Edge when it ends)."""
    if not access_log.isEnabledFor(logging.INFO):
        return  # AUTHAPI_LOG_LEVEL=warning: not even the client IP is worked out
    route = route_of(scope)
    access_log.info(
        "%s %s %s",
        scope["method"],
        route,
        status,
        extra={
            "request_id": request_id,
            "method": scope["method"],
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client_ip": client_ip(HTTPConnection(scope), trusted_proxies, proxy_header),
        },
    )
