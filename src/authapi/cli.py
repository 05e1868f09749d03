"""The `authapi` command: serve, migrate, keys, reencrypt, users, sessions, openapi.

Configuration and start-up problems end the command with one line on stderr
(`authapi: error: …`) and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from pydantic import ValidationError

from authapi.keys import ACTIVATION_DELAY_SECONDS
from authapi.settings import Settings, config_error_line

T = TypeVar("T")


def _fail(message: str) -> NoReturn:
    print(f"authapi: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        _fail(config_error_line(exc))


def cmd_serve(args: argparse.Namespace) -> None:
    settings = _settings()
    # before anything imports prometheus_client (authapi.logs does, through authapi.metrics)
    _prepare_metrics_directory(settings)

    import uvicorn

    from authapi.logs import configure_logging, logging_config

    configure_logging(settings.log_level, settings.effective_log_format)
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
        # every uvicorn line through our formatter, in each worker too; our access
        # line (authapi.middleware.Edge) replaces uvicorn's, which prints query strings
        log_config=logging_config(settings.log_level, settings.effective_log_format),
        access_log=False,
        timeout_graceful_shutdown=10,
    )


def _prepare_metrics_directory(settings: Settings) -> None:
    """Point every worker's metrics at one directory, empty at start (authapi.metrics).

    Must run before anything imports prometheus_client (which fixes its mode at
    import), so `cmd_serve` calls it first. The directory is the
    operator's PROMETHEUS_MULTIPROC_DIR, else `metrics/` in the data directory
    (else a temporary one, if that is not writable); old samples in it would add
    up with the new ones, so it is emptied.
    """
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    directory = Path(given) if given else settings.data_dir / "metrics"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    except OSError:
        if given:
            _fail(f"PROMETHEUS_MULTIPROC_DIR {given} is not a writable directory")
        directory = Path(tempfile.mkdtemp(prefix="authapi-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory.resolve())


async def _migrate(settings: Settings, *, report: bool = False) -> None:
    from authapi.db import check_database, current_revisions, engine_for, migrate

    engine = engine_for(settings)
    try:
        await _reach(check_database(engine), settings)
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


async def _reach(check: Coroutine[Any, Any, T], settings: Settings) -> T:
    """The result of a first query; one line naming the database if it cannot be reached."""
    from authapi.db import describe_database

    try:
        return await check
    except Exception as exc:
        where = describe_database(settings.effective_database_url)
        _fail(f"database unreachable ({where}): {type(exc).__name__}: {_first_line(exc)}")


async def _preflight(settings: Settings) -> None:
    """Open every resource once, so a bad setup fails here with one line."""
    from authapi.db import engine_for, schema_is_current
    from authapi.resources import Resources, StartupError

    engine = engine_for(settings)
    try:
        current = await _reach(schema_is_current(engine), settings)
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
    from authapi.db import engine_for, make_sessionmaker
    from authapi.encryption import Encryptor, load_encryption_keys
    from authapi.keys import KeyConfigError, KeyRepository

    settings = _settings()
    engine = engine_for(settings)
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
    from authapi.db import engine_for, make_sessionmaker
    from authapi.encryption import Encryptor, load_encryption_keys
    from authapi.reencrypt import ReencryptError, reencrypt_all

    settings = _settings()
    engine = engine_for(settings)
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


def cmd_users(args: argparse.Namespace) -> None:
    _run(_users(args))


async def _users(args: argparse.Namespace) -> None:
    from authapi.resources import Resources, StartupError
    from authapi.services.admin import AdminService, UserNotFound
    from authapi.services.profiles import transaction

    settings = _settings()
    try:
        async with (
            Resources.open(settings, serving=False) as resources,
            transaction(resources) as db,
        ):
            admin = AdminService(db, resources)
            if args.action == "list":
                users = await admin.list(limit=args.limit, disabled_only=args.disabled)
                print(f"{'ID':<36}  {'CREATED':<19}  {'STATE':<10}  EMAIL")
                for user in users:
                    state = (
                        "disabled"
                        if user.disabled
                        else ("verified" if user.email_verified else "unverified")
                    )
                    print(
                        f"{user.id}  {user.created_at:%Y-%m-%d %H:%M:%S}  {state:<10}  {user.email}"
                    )
            elif args.action == "show":
                _print_details(await admin.show(args.email))
            elif args.action == "disable":
                ended = await admin.disable(args.email)
                print(f"{args.email}: disabled; {ended} session(s) ended")
            elif args.action == "reset-mfa":
                ended = await admin.reset_mfa(args.email)
                print(f"{args.email}: two-factor authentication off; {ended} session(s) ended")
            elif args.action == "enable":
                changed = await admin.enable(args.email)
                print(f"{args.email}: {'enabled' if changed else 'was not disabled'}")
            else:
                ended = await admin.revoke_sessions(args.email)
                print(f"{args.email}: {ended} session(s) ended")
    except UserNotFound as exc:
        _fail(str(exc))
    except StartupError as exc:
        _fail(str(exc))
    if args.action in ("disable", "revoke-sessions", "reset-mfa") and settings.redis_url is None:
        print(
            "note: without AUTHAPI_REDIS_URL live sessions are kept inside the server process; "
            "restart it to end them now",
            file=sys.stderr,
        )


def _print_details(details: Any) -> None:
    summary = details.summary
    rows = {
        "id": summary.id,
        "email": summary.email,
        "email verified": "yes" if summary.email_verified else "no",
        "created": f"{summary.created_at:%Y-%m-%d %H:%M:%S} UTC",
        "disabled": f"{details.disabled_at:%Y-%m-%d %H:%M:%S} UTC" if details.disabled_at else "no",
        "password": "set" if details.has_password else "none",
        "two-factor": "on" if details.mfa_enabled else "off",
        "providers": ", ".join(details.providers) or "none",
        "open sessions": details.open_sessions,
        "last sign-in": (
            f"{details.last_sign_in:%Y-%m-%d %H:%M:%S} UTC" if details.last_sign_in else "never"
        ),
    }
    for name, value in rows.items():
        print(f"{name + ':':<15} {value}")


def cmd_sessions(args: argparse.Namespace) -> None:
    _run(_prune())


async def _prune() -> None:
    from authapi.db import engine_for, make_sessionmaker
    from authapi.retention import prune

    settings = _settings()
    engine = engine_for(settings)
    try:
        pruned = await prune(make_sessionmaker(engine), settings)
    except Exception as exc:
        _fail(f"{type(exc).__name__}: {_first_line(exc)}")
    finally:
        await engine.dispose()
    print(
        f"deleted {pruned.sessions} ended session record(s) older than "
        f"{settings.session_retention_days} days, {pruned.events} security event(s) older than "
        f"{settings.audit_retention_days} days and {pruned.email_tokens} spent email link(s)"
    )


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

    users = commands.add_parser("users", help="look at, disable and enable accounts")
    user_actions = users.add_subparsers(dest="action", required=True)
    listing = user_actions.add_parser("list", help="the newest accounts")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--disabled", action="store_true", help="only disabled accounts")
    for action, text in (
        ("show", "one account: state, factors, providers, sessions, last sign-in"),
        ("disable", "refuse every sign-in and end every session now"),
        ("enable", "allow sign-in again"),
        ("revoke-sessions", "end every session now (the account stays enabled)"),
        (
            "reset-mfa",
            "turn two-factor authentication off (the owner lost every factor), "
            "end every session and email the owner",
        ),
    ):
        user_actions.add_parser(action, help=text).add_argument("email")
    users.set_defaults(handler=cmd_users)

    sessions = commands.add_parser("sessions", help="maintenance of session records")
    session_actions = sessions.add_subparsers(dest="action", required=True)
    session_actions.add_parser(
        "prune",
        help="delete ended sessions and security events past their retention "
        "(the service also does this hourly)",
    )
    sessions.set_defaults(handler=cmd_sessions)

    openapi = commands.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument("--output", default="openapi.json", help="file to write, or - for stdout")
    openapi.set_defaults(handler=cmd_openapi)
    return root


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.handler(args)
