"""`authapi reencrypt` (step 2 of an encryption-key rotation) as an operator runs it.

With AUTHAPI_ENCRYPTION_KEYS="NEW,OLD" it rewrites every encrypted value (signing
keys, TOTP secrets, queued emails) under NEW, exits 0 and prints what it did; with
a key list that opens nothing it exits 2 with one line on stderr and changes
nothing. Data is written under OLD by the app in-process, on a database of this
test alone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from sqlalchemy.orm import QueryableAttribute

from authapi.db import make_engine
from authapi.models import OutboxMessage, SigningKey, TotpCredential
from authapi.settings import Settings
from tests.conftest import (
    Mailbox,
    PostgresDatabase,
    common_settings,
    free_port,
    open_api,
)
from tests.live.conftest import authapi_env, run_cli
from tests.mfa import challenge, mfa_user, next_code, submit

pytestmark = pytest.mark.live

# every column marked ENCRYPTED in authapi.models
# table: (encrypted column, primary key)
ENCRYPTED: dict[str, tuple[QueryableAttribute[Any], QueryableAttribute[Any]]] = {
    "signing_keys": (SigningKey.private_key, SigningKey.kid),
    "totp_credentials": (TotpCredential.secret, TotpCredential.user_id),
    "outbox": (OutboxMessage.body, OutboxMessage.id),
}


def settings_for(
    database: PostgresDatabase, tmp_path: Path, key: str, **overrides: object
) -> Settings:
    values = {**common_settings(tmp_path), "database_url": database.url, "encryption_keys": [key]}
    return Settings(**{**values, **overrides})


async def stored(database: PostgresDatabase) -> dict[str, list[str]]:
    """Every stored encrypted value, per table, in primary-key order."""
    engine = make_engine(database.url)
    try:
        async with engine.connect() as connection:
            values = {}
            for table, (column, key) in ENCRYPTED.items():
                rows = await connection.scalars(
                    select(column).where(column.is_not(None)).order_by(key)
                )
                values[table] = [value for value in rows if value is not None]
            return values
    finally:
        await engine.dispose()


def opens_with(key: str, ciphertext: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(ciphertext.encode())
    except InvalidToken:
        return False
    return True


async def test_reencrypt_moves_every_secret_to_the_first_key(
    own_postgres: PostgresDatabase, tmp_path: Path
) -> None:
    old, new, unrelated = (Fernet.generate_key().decode() for _ in range(3))
    mailbox = Mailbox(outbox=tmp_path / "data" / "outbox")
    async with open_api(settings_for(own_postgres, tmp_path, old), mailbox) as api:
        # TOTP on (which also queues emails), confirmed with the current step's code
        user = await mfa_user(api)
    email = user.email
    # a reset link queued while the mail server is down: its body waits, encrypted
    no_smtp = settings_for(own_postgres, tmp_path, old, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    async with open_api(no_smtp, mailbox, settle=False) as api:
        forgot = await api.client.post("/auth/forgot-password", json={"email": email})
        assert forgot.status_code == 202
    before = await stored(own_postgres)
    assert all(before[table] for table in ENCRYPTED), before  # something to rewrite in each
    assert all(opens_with(old, value) for values in before.values() for value in values)

    env = authapi_env(AUTHAPI_DATABASE_URL=own_postgres.url, AUTHAPI_DATA_DIR=tmp_path / "cli")

    # a key list that opens nothing: one line, exit 2, nothing changed
    refused = await asyncio.to_thread(
        run_cli, "reencrypt", env={**env, "AUTHAPI_ENCRYPTION_KEYS": unrelated}, cwd=tmp_path
    )
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert "Traceback" not in refused.stderr + refused.stdout
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert lines[0].startswith("authapi: error: "), refused.stderr
    assert unrelated not in refused.stderr + refused.stdout
    assert await stored(own_postgres) == before

    done = await asyncio.to_thread(
        run_cli, "reencrypt", env={**env, "AUTHAPI_ENCRYPTION_KEYS": f"{new},{old}"}, cwd=tmp_path
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    for table, values in before.items():
        assert f"{table}: {len(values)}" in done.stdout, done.stdout
    assert new not in done.stdout + done.stderr
    assert old not in done.stdout + done.stderr

    after = await stored(own_postgres)
    assert {table: len(values) for table, values in after.items()} == {
        table: len(values) for table, values in before.items()
    }
    for values in after.values():
        for value in values:
            assert opens_with(new, value)
            assert not opens_with(old, value)

    # the old key can go: the app starts with the new one alone, the secret verifies
    # and the queued email is delivered
    async with open_api(settings_for(own_postgres, tmp_path, new), mailbox) as api:
        await mailbox.wait_for(email, subject="Reset your password")
        # confirming used the current step: a later one
        signed_in = await submit(api, await challenge(api, email), next_code(user.app))
        assert signed_in.status_code == 200, signed_in.text
        by_recovery_code = await submit(api, await challenge(api, email), user.codes[0])
        assert by_recovery_code.status_code == 200, by_recovery_code.text
