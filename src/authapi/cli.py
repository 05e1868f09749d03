"""The `authapi` command: serve, migrate, keys, reencrypt, openapi.

Configuration and start-up problems end the command with one line on stderr
(`authapi: error: …`) and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from authapi.keys import ACTIVATION_DELAY_SECONDS
from authapi.settings import Settings, config_error_line


def _fail(message: str) -> NoReturn:
    print(f"authapi: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        _fail(config_error_line(exc))


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from authapi.logs import configure_logging

    settings = _settings()
    configure_logging(settings.log_level)
    if args.workers > 1 and settings.redis_url is None:
        _fail("--workers > 1 needs AUTHAPI_REDIS_URL: the in-process token store cannot be shared")
    if settings.is_sqlite:
        _run(_migrate(settings))  # the embedded default migrates itself
    _run(_preflight(settings))
    uvicorn.run(
        "authapi.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # The client IP is decided by AUTHAPI_TRUSTED_PROXIES alone (authapi.clientip).
        proxy_headers=False,
        server_header=False,
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,
    )


async def _migrate(settings: Settings, *, report: bool = False) -> None:
    from authapi.db import current_revisions, make_engine, migrate

    engine = make_engine(settings.effective_database_url)
    try:
        before = await current_revisions(engine)
        await migrate(engine)
        after = await current_revisions(engine)
        if report:
            done = "already at" if before == after else "migrated to"
            print(f"database schema is up to date ({done} revision {', '.join(sorted(after))})")
    except Exception as exc:
        _fail(f"migrations failed: {type(exc).__name__}: {_first_line(exc)}")
    finally:
        await engine.dispose()


async def _preflight(settings: Settings) -> None:
    """Open every resource once, so a bad setup fails here with one line."""
    from authapi.db import make_engine, schema_is_current
    from authapi.resources import Resources, StartupError

    engine = make_engine(settings.effective_database_url)
    try:
        current = await schema_is_current(engine)
    except Exception as exc:
        _fail(f"database unreachable: {type(exc).__name__}: {_first_line(exc)}")
    finally:
        await engine.dispose()
    if not current:
        _fail("the database schema is not up to date: run `authapi migrate`")
    try:
        async with Resources.open(settings, serving=False):
            pass
    except StartupError as exc:
        _fail(str(exc))


def cmd_migrate(args: argparse.Namespace) -> None:
    _run(_migrate(_settings(), report=True))


def cmd_keys(args: argparse.Namespace) -> None:
    _run(_keys(args.action, activate_in=args.activate_in))


async def _keys(action: str, *, activate_in: float) -> None:
    from authapi.db import make_engine, make_sessionmaker
    from authapi.encryption import Encryptor, load_encryption_keys
    from authapi.keys import KeyConfigError, KeyRepository

    settings = _settings()
    engine = make_engine(settings.effective_database_url)
    try:
        repository = KeyRepository(
            make_sessionmaker(engine), Encryptor(load_encryption_keys(settings)), settings
        )
        if action == "rotate":
            key = await repository.rotate(activate_in_seconds=activate_in)
            print(
                f"new signing key {key.kid} ({key.algorithm}) published; it signs from "
                f"{key.activates_at:%Y-%m-%d %H:%M:%S} UTC (instances switch within "
                f"{settings.keys_reload_seconds} s), and the previous key stays published "
                f"{repository.trust_after_retire_seconds} s after that"
            )
            return
        print(f"{'KID':<44} {'ALG':<6} {'SIGNS FROM':<20} {'RETIRES':<20} STATUS")
        for row in await repository.all_rows():
            retires = f"{row.retired_at:%Y-%m-%d %H:%M:%S}" if row.retired_at else "-"
            print(
                f"{row.kid:<44} {row.algorithm:<6} {row.activates_at:%Y-%m-%d %H:%M:%S}  "
                f"{retires:<20} {repository.status(row)}"
            )
    except KeyConfigError as exc:
        _fail(str(exc))
    except Exception as exc:
        _fail(f"{type(exc).__name__}: {_first_line(exc)}")
    finally:
        await engine.dispose()


def cmd_reencrypt(args: argparse.Namespace) -> None:
    _run(_reencrypt())


async def _reencrypt() -> None:
    from authapi.db import make_engine, make_sessionmaker
    from authapi.encryption import Encryptor, load_encryption_keys
    from authapi.reencrypt import ReencryptError, reencrypt_all

    settings = _settings()
    engine = make_engine(settings.effective_database_url)
    try:
        counts = await reencrypt_all(
            make_sessionmaker(engine), Encryptor(load_encryption_keys(settings))
        )
    except ReencryptError as exc:
        _fail(str(exc))
    except Exception as exc:
        _fail(f"{type(exc).__name__}: {_first_line(exc)}")
    finally:
        await engine.dispose()
    done = ", ".join(f"{table}: {count}" for table, count in counts.items())
    print(f"re-encrypted under the first key of AUTHAPI_ENCRYPTION_KEYS ({done})")


def cmd_openapi(args: argparse.Namespace) -> None:
    from authapi.openapi import openapi_document

    text = json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coroutine)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else ""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="authapi", description="Self-hosted authentication service."
    )
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=cmd_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=cmd_migrate)

    keys = commands.add_parser("keys", help="manage JWT signing keys")
    keys.add_argument("action", choices=["rotate", "list"])
    keys.add_argument(
        "--activate-in",
        type=float,
        default=ACTIVATION_DELAY_SECONDS,
        metavar="SECONDS",
        help="rotate: publish the new key now, sign with it after this delay "
        f"(default {ACTIVATION_DELAY_SECONDS}: longer than verifiers cache the JWKS; "
        "0 for a compromised key)",
    )
    keys.set_defaults(handler=cmd_keys)

    reencrypt = commands.add_parser(
        "reencrypt",
        help="rewrite every secret at rest under the first AUTHAPI_ENCRYPTION_KEYS key",
        description="Step 2 of an encryption-key rotation: run it after putting a new key "
        "first in AUTHAPI_ENCRYPTION_KEYS; afterwards the old key can be removed.",
    )
    reencrypt.set_defaults(handler=cmd_reencrypt)

    openapi = commands.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument("--output", default="openapi.json", help="file to write, or - for stdout")
    openapi.set_defaults(handler=cmd_openapi)
    return root


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.handler(args)
