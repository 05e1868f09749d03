"""authapi.logs: redaction, the two formats, request ids, and the logging config.

The logging config itself is applied in a subprocess: `dictConfig` replaces the
root handlers, pytest's capture among them.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from authapi.logs import (
    REDACTED,
    ConsoleFormatter,
    JsonFormatter,
    accepted_request_id,
    logging_config,
    redact,
    redact_value,
    request_id_var,
)
from authapi.settings import Settings

JWT = (
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImFiYyJ9"
    ".eyJzdWIiOiIxMjMiLCJleHAiOjE3MDAwMDAwMDB9"
    ".c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
)
FERNET = "gAAAAABnQ2xvZ2dlZF9zZWNyZXRfYXRfcmVzdF9ibG9ifQ_aZ-3kq9Zx0dW5lZA=="
SECRET = "S3cr3t-Value_42"


class TestRedact:
    @pytest.mark.parametrize(
        "text",
        [
            # JSON and Python reprs, every key
            *(
                f'{{"{key}": "{SECRET}", "email": "ada@example.com"}}'
                for key in [
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
                    "cookie",
                    "set-cookie",
                    "Authorization",
                ]
            ),
            f'{{"password":"{SECRET}"}}',
            f'{{"password": "with \\"quotes\\" {SECRET}"}}',
            f"{{'password': '{SECRET}', 'n': 1}}",
            f'{{"recovery_codes": ["abcd-efgh", "{SECRET}"]}}',
            f"[(b'authorization', b'Basic {SECRET}'), (b'cookie', b'sid={SECRET}')]",
            # query strings, form bodies, header lines
            f"GET /auth/oauth/local/callback?state={SECRET}&code={SECRET} HTTP/1.1",
            f"grant_type=password&username=ada%40example.com&password={SECRET}",
            f"refresh_token={SECRET}",
            f"https://app.example.com/verify-email?token={SECRET}",
            f"otpauth://totp/authapi:ada?secret={SECRET}&issuer=authapi",
            f"Authorization: Token {SECRET}",
            f"cookie: authapi_refresh={SECRET}; other=1",
            f"Set-Cookie: authapi_refresh={SECRET}; HttpOnly; Path=/auth",
            # credentials wherever they stand
            f"header was Bearer {SECRET}",
            f"sent basic {SECRET}",
            f"postgresql+asyncpg://authapi:{SECRET}@db/authapi",
        ],
    )
    @pytest.mark.requirement("ASVS-16.2.5")
    def test_removes_the_secret(self, text: str) -> None:
        redacted = redact(text)
        assert SECRET not in redacted
        assert REDACTED in redacted

    def test_numeric_value(self) -> None:
        assert redact('{"code": 123456, "n": 1}') == f'{{"code": "{REDACTED}", "n": 1}}'

    @pytest.mark.parametrize("secret", [JWT, FERNET])
    def test_shapes_are_found_anywhere(self, secret: str) -> None:
        assert redact(f"decoded {secret} while checking") == f"decoded {REDACTED} while checking"
        assert secret not in redact(f"x{secret},")

    def test_keeps_what_is_around_the_secret(self) -> None:
        assert redact(f"/callback?error=denied&state={SECRET}&x=1") == (
            f"/callback?error=denied&state={REDACTED}&x=1"
        )
        assert redact(f'{{"email": "ada@example.com", "password": "{SECRET}"}}') == (
            f'{{"email": "ada@example.com", "password": "{REDACTED}"}}'
        )

    @pytest.mark.parametrize(
        "text",
        [
            "refresh token reuse detected; session revoked",
            "Started server process [4242]",
            "Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)",
            "POST /auth/login/mfa 200",
            "GET /users/me/identities/{identity_id} 404",
            "provider local: code exchange failed: timeout",
            "no signing key found: generating a new ES256 key",
            "DEVELOPMENT SETTING: embedded SQLite database at /srv/authapi.db",
            "error_code=invalid_grant postcode=12345 tokens=3",
            '{"status": 401, "email": "ada@example.com", "session_id": "5f0c"}',
            "password reset for ada@example.com",
            "https://app.example.com/reset-password",
            "ζ unicode text stays, and so do [brackets] and {braces}",
        ],
    )
    def test_ordinary_text_stays_intact(self, text: str) -> None:
        assert redact(text) == text


class TestRedactValue:
    def test_walks_dicts_and_lists(self) -> None:
        value = {
            "email": "ada@example.com",
            "password": SECRET,
            "Set-Cookie": SECRET,
            "nested": {"refresh_token": SECRET, "ok": [1, f"Bearer {SECRET}", None, True]},
            "count": 3,
        }
        assert redact_value(value) == {
            "email": "ada@example.com",
            "password": REDACTED,
            "Set-Cookie": REDACTED,
            "nested": {"refresh_token": REDACTED, "ok": [1, f"Bearer {REDACTED}", None, True]},
            "count": 3,
        }

    def test_other_objects_become_redacted_text(self) -> None:
        class Holder:
            def __str__(self) -> str:
                return f"password={SECRET}"

        assert redact_value(Holder()) == f"password={REDACTED}"
        assert redact_value((1, 2.5)) == [1, 2.5]


# --- formatters ------------------------------------------------------------------------
@pytest.fixture
def request_id() -> Iterator[str]:
    token = request_id_var.set("req-123")
    try:
        yield "req-123"
    finally:
        request_id_var.reset(token)


def record(
    message: str = "hello %s",
    args: tuple[Any, ...] = ("world",),
    *,
    extra: dict[str, Any] | None = None,
    exc_info: Any = None,
    level: int = logging.INFO,
) -> logging.LogRecord:
    logger = logging.getLogger("authapi.test")
    return logger.makeRecord(logger.name, level, __file__, 1, message, args, exc_info, extra=extra)


def failure() -> Any:
    try:
        raise ValueError(f"bad password={SECRET}")
    except ValueError:
        return sys.exc_info()


class TestJsonFormat:
    @pytest.mark.requirement("ASVS-16.2.1", "ASVS-16.2.2", "ASVS-16.2.4")
    def test_shape(self, request_id: str) -> None:
        line = JsonFormatter().format(record(extra={"user": "u1", "attempts": 2}))
        entry = json.loads(line)
        assert list(entry) == [
            "time",
            "level",
            "logger",
            "message",
            "request_id",
            "user",
            "attempts",
        ]
        assert entry["time"].endswith("Z")
        assert entry["time"][10] == "T"
        assert entry["level"] == "info"
        assert entry["logger"] == "authapi.test"
        assert entry["message"] == "hello world"
        assert entry["request_id"] == request_id
        assert entry["user"] == "u1"
        assert entry["attempts"] == 2
        assert "\n" not in line

    def test_no_request_id_outside_a_request(self) -> None:
        assert "request_id" not in json.loads(JsonFormatter().format(record()))

    def test_a_carried_request_id_wins(self, request_id: str) -> None:
        entry = json.loads(JsonFormatter().format(record(extra={"request_id": "carried"})))
        assert entry["request_id"] == "carried"

    @pytest.mark.requirement("ASVS-16.2.5")
    def test_redacts_message_extras_and_exception(self) -> None:
        line = JsonFormatter().format(
            record(
                "login with %s",
                ({"password": SECRET},),
                extra={"token": SECRET, "details": {"code": SECRET}, "header": f"Bearer {SECRET}"},
                exc_info=failure(),
                level=logging.ERROR,
            )
        )
        assert SECRET not in line
        entry = json.loads(line)
        assert entry["level"] == "error"
        assert entry["token"] == REDACTED
        assert entry["details"] == {"code": REDACTED}
        assert entry["header"] == f"Bearer {REDACTED}"
        assert "ValueError: bad password=[REDACTED]" in entry["exception"]
        assert "Traceback" in entry["exception"]

    def test_unserialisable_extras_become_text(self) -> None:
        entry = json.loads(JsonFormatter().format(record(extra={"when": object()})))
        assert entry["when"].startswith("<object object")


class TestConsoleFormat:
    def test_one_readable_line(self, request_id: str) -> None:
        line = ConsoleFormatter().format(record(extra={"status": 200, "route": "/users/me"}))
        assert " INFO    authapi.test [req-123]: hello world" in line
        assert line.endswith(' status=200 route="/users/me"')

    def test_fields_in_the_message_are_not_repeated(self) -> None:
        line = ConsoleFormatter().format(
            record("%s %s %s", ("GET", "/users/me", 200), extra={"route": "/users/me", "ms": 3.5})
        )
        assert line.endswith(": GET /users/me 200 ms=3.5")

    def test_without_a_request(self) -> None:
        assert " INFO    authapi.test: hello world" in ConsoleFormatter().format(record())

    def test_redacts_and_appends_the_traceback(self) -> None:
        text = ConsoleFormatter().format(
            record("token=%s", (SECRET,), extra={"secret": SECRET}, exc_info=failure())
        )
        assert SECRET not in text
        assert "token=[REDACTED]" in text
        assert "\n  | Traceback" in text


FORGED = "\n2026-01-01 00:00:00,000 INFO    authapi.access: GET /admin 200"
BREAKERS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029", "\x1b[2K\r"]


class TestNoForgedLines:
    """A request cannot write a log record of its own (issue 12, item 9): `%0a` in a
    path, or any other line break, stays inside the line that logged it."""

    @pytest.mark.requirement("ASVS-16.4.1")
    @pytest.mark.parametrize("breaker", BREAKERS, ids=repr)
    def test_control_characters_cannot_forge_a_console_line(self, breaker: str) -> None:
        text = ConsoleFormatter().format(
            record("%s %s %s", ("GET", f"/x{breaker}{FORGED}", 404), extra={"path": breaker})
        )
        assert text.splitlines() == [text], text
        assert breaker not in text

    @pytest.mark.requirement("ASVS-16.4.1")
    @pytest.mark.parametrize("breaker", BREAKERS, ids=repr)
    def test_control_characters_cannot_forge_a_json_line(self, breaker: str) -> None:
        line = JsonFormatter().format(
            record("%s %s", ("GET", f"/x{breaker}{FORGED}"), extra={"route": f"/x{breaker}"})
        )
        assert line.splitlines() == [line], line
        entry = json.loads(line)
        assert entry["message"] == f"GET /x{breaker}{FORGED}"  # escaped, not lost
        assert entry["route"] == f"/x{breaker}"

    @pytest.mark.requirement("ASVS-16.4.1")
    def test_a_traceback_cannot_forge_a_line_either(self) -> None:
        try:
            raise ValueError(f"bad input{FORGED}")
        except ValueError:
            text = ConsoleFormatter().format(record(exc_info=sys.exc_info()))
        first, *rest = text.splitlines()
        assert first.endswith(": hello world"), text
        assert rest, text
        assert all(line.startswith("  | ") for line in rest), text


# --- request ids ------------------------------------------------------------------------
class TestRequestId:
    @pytest.mark.parametrize("value", ["a", "abc-123", "7f3e9c1a.edge:01_x", "A" * 128, "0f" * 16])
    def test_sane_ids_are_kept(self, value: str) -> None:
        assert accepted_request_id(value) == value

    @pytest.mark.parametrize(
        "value",
        [
            None,
            "",
            "A" * 129,
            "has space",
            "new\nline",
            "abc\r\nX-Injected: 1",
            "abc\n",
            "semi;colon",
            "slash/es",
            "ünïcode",
            '"quoted"',
        ],
    )
    def test_others_get_a_new_one(self, value: str | None) -> None:
        generated = accepted_request_id(value)
        assert len(generated) == 32
        assert int(generated, 16) >= 0
        assert generated != accepted_request_id(value)


# --- configuration ----------------------------------------------------------------------
class TestEffectiveFormat:
    def test_console_for_the_embedded_default(self) -> None:
        assert Settings().effective_log_format == "console"

    def test_json_with_a_database(self) -> None:
        settings = Settings(database_url="postgresql://u@db/authapi")
        assert settings.effective_log_format == "json"

    def test_explicit_choice_wins(self) -> None:
        assert Settings(log_format="json").effective_log_format == "json"
        settings = Settings(database_url="postgresql://u@db/authapi", log_format="console")
        assert settings.effective_log_format == "console"


APPLIED = f"""
import logging, logging.config, pickle, warnings
from authapi.logs import configure_logging, logging_config

configure_logging("info", "json")
# what a --workers child does: uvicorn pickles the config and applies it again
logging.config.dictConfig(pickle.loads(pickle.dumps(logging_config("info", "json"))))
logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
logging.getLogger("uvicorn.access").info("GET /x?token=leak HTTP/1.1")
logging.getLogger("authapi.anything").debug("below the level")
logging.getLogger("authapi.anything").warning("seen with password=%s", {SECRET!r})
logging.getLogger("alembic.runtime").info("alembic chatter")
warnings.warn("a library warning")
logging.getLogger("authapi.anything").info("canary %s", {SECRET!r})
"""


@pytest.mark.requirement("ASVS-16.2.3", "ASVS-16.2.4")
def test_logging_config_sends_everything_through_one_formatter() -> None:
    """uvicorn's loggers and warnings come out as JSON; uvicorn's access logger is mute."""
    result = subprocess.run(
        [sys.executable, "-c", APPLIED], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout == ""
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(entry["logger"], entry["level"]) for entry in entries] == [
        ("uvicorn.error", "info"),
        ("authapi.anything", "warning"),
        ("py.warnings", "warning"),
        ("authapi.anything", "info"),
    ]
    assert entries[0]["message"] == "Started server process [42]"
    assert entries[1]["message"] == f"seen with password={REDACTED}"
    assert SECRET not in "\n".join(result.stderr.splitlines()[:-1])
    # control: the same text, where nothing marks it as a secret, does come through
    assert entries[-1]["message"] == f"canary {SECRET}"


def test_logging_config_is_plain_data() -> None:
    config = logging_config("debug", "console")
    assert json.loads(json.dumps(config)) == config
    assert config["formatters"]["authapi"]["class"] == "authapi.logs.ConsoleFormatter"
    # debug is for authapi and uvicorn; libraries stay at info (issue 12, item 13)
    assert config["loggers"]["authapi"]["level"] == "DEBUG"
    assert config["loggers"]["uvicorn"]["level"] == "DEBUG"
    assert config["root"]["level"] == "INFO"
    assert logging_config("warning", "json")["root"]["level"] == "WARNING"


LIBRARIES_AT_DEBUG = """
import asyncio, sys
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from authapi.logs import configure_logging

configure_logging("debug", "console")

async def main():
    engine = create_async_engine("sqlite+aiosqlite://")
    async with engine.begin() as connection:
        await connection.execute(text("create table t (a text)"))
        await connection.execute(text("insert into t values (:a)"), {"a": sys.argv[1]})
    await engine.dispose()

asyncio.run(main())
import logging
logging.getLogger("authapi.anything").debug("authapi's own debug line")
"""


@pytest.mark.requirement("ASVS-16.2.5")
def test_no_library_logs_what_it_carries_at_debug() -> None:
    """aiosqlite logs every statement with its parameters at DEBUG (issue 12, item 13)."""
    result = subprocess.run(
        [sys.executable, "-c", LIBRARIES_AT_DEBUG, SECRET],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert SECRET not in result.stderr
    assert "aiosqlite" not in result.stderr
    assert "authapi's own debug line" in result.stderr
