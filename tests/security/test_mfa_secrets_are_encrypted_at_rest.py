"""Second-factor secrets are never stored in the clear (SPEC "Security properties": TOTP
secrets "encrypted at rest with rotatable keys", "recovery codes hashed").

The raw rows are read past the service layer: `totp_credentials.secret` is Fernet
ciphertext under AUTHAPI_ENCRYPTION_KEYS (and opens to the secret, so the check is
not vacuous), `recovery_codes` keeps ten hashes, and no column of any table holds the
secret (base32 in any case, hex, base64, raw bytes) or a recovery code (with or
without hyphens, any case).

Rotation: a secret enrolled under K1 still verifies with [K2, K1];
`authapi.reencrypt.reencrypt_all` rewrites it under K2, after which [K2] alone
signs in. The rotation test has a database of its own: re-encrypting rewrites every
encrypted row (signing keys included) of the database it runs on.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Connection, MetaData, select

from authapi.db import migrate_sync
from authapi.models import RecoveryCode, TotpCredential
from authapi.reencrypt import reencrypt_all
from tests.conftest import ENCRYPTION_KEY, Api, in_thread, temporary_postgres
from tests.mfa import (
    STEP,
    mfa_status,
    mfa_user,
    next_code,
    signed_in_with_mfa,
    start_setup,
    user_id_of,
    wait_for_fresh_step,
)


async def stored_secret(api: Api, user_id: uuid.UUID) -> str:
    async with api.app.state.resources.sessionmaker() as db:
        value = await db.scalar(
            select(TotpCredential.secret).where(TotpCredential.user_id == user_id)
        )
    assert isinstance(value, str), value
    return value


async def stored_code_hashes(api: Api, user_id: uuid.UUID) -> list[str]:
    async with api.app.state.resources.sessionmaker() as db:
        rows = await db.scalars(
            select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user_id)
        )
        return list(rows)


# --- every stored value ---------------------------------------------------------------
@dataclass(frozen=True)
class Needles:
    """Ways a secret could be written down: compared ignoring case, exactly, or as bytes."""

    any_case: list[str]
    exact: list[str]
    raw: list[bytes]


def secret_needles(secret: str) -> Needles:
    raw = base64.b32decode(secret)
    encodings = [base64.b64encode(raw), base64.urlsafe_b64encode(raw)]
    return Needles(
        any_case=[secret, secret.rstrip("="), raw.hex()],
        exact=[encoded.decode().rstrip("=") for encoded in encodings] + [raw.decode("latin-1")],
        raw=[raw],
    )


def code_needles(codes: list[str]) -> Needles:
    spellings = [spelling for code in codes for spelling in (code, code.replace("-", ""))]
    return Needles(any_case=spellings, exact=[], raw=[spelling.encode() for spelling in spellings])


def _every_value(connection: Connection) -> list[tuple[str, str, Any]]:
    metadata = MetaData()
    metadata.reflect(connection)
    return [
        (table.name, column, value)
        for table in metadata.sorted_tables
        for row in connection.execute(select(table))
        for column, value in zip(table.columns.keys(), row, strict=True)
    ]


async def columns_holding(api: Api, needles: Needles) -> list[str]:
    """`table.column` for every stored value, in any table, that contains a needle."""
    async with api.app.state.resources.engine.connect() as connection:
        values = await connection.run_sync(_every_value)
    found = []
    for table, column, value in values:
        if value is None:
            continue
        if isinstance(value, bytes | memoryview):
            data = bytes(value)
            text = data.decode("latin-1")
            if any(needle in data for needle in needles.raw):
                found.append(f"{table}.{column}")
                continue
        elif isinstance(value, dict | list):
            text = json.dumps(value)
        else:
            text = str(value)
        lowered = text.lower()
        if any(needle.lower() in lowered for needle in needles.any_case) or any(
            needle in text for needle in needles.exact
        ):
            found.append(f"{table}.{column}")
    return found


# --- the property ----------------------------------------------------------------------
class TestAtRest:
    @pytest.mark.requirement("NIST-63B-3.1.4.2-a")
    async def test_a_pending_secret_is_stored_encrypted(self, api: Api) -> None:
        tokens = await api.signed_in()
        secret = (await start_setup(api, tokens.access)).secret
        user_id = await user_id_of(api, tokens.email)

        ciphertext = await stored_secret(api, user_id)
        plaintext = Fernet(ENCRYPTION_KEY.encode()).decrypt(ciphertext.encode()).decode()
        assert plaintext == f"{user_id}:{secret}"  # the row holds this secret, sealed
        assert await columns_holding(api, secret_needles(secret)) == []

    @pytest.mark.requirement("NIST-63B-3.1.4.2-a", "RFC6238-3")
    async def test_an_enabled_secret_and_the_recovery_codes_are_not_stored_in_the_clear(
        self, api: Api
    ) -> None:
        # confirmed with the previous step's code, leaving the current step free
        user = await mfa_user(api, confirm_offset=-STEP)
        user_id, secret = await user_id_of(api, user.email), user.app.secret
        await wait_for_fresh_step()
        # last_used_step is written too
        assert (await signed_in_with_mfa(api, user.email, user.app.now())).access

        ciphertext = await stored_secret(api, user_id)
        assert Fernet(ENCRYPTION_KEY.encode()).decrypt(ciphertext.encode()).decode() == (
            f"{user_id}:{secret}"
        )
        for needle in [secret, secret.lower(), base64.b32decode(secret).hex()]:
            assert needle not in ciphertext

        hashes = await stored_code_hashes(api, user_id)
        assert len(hashes) == 10
        # one hash per code handed out: these rows are the codes, yet none holds one
        assert set(hashes) == {
            hashlib.sha256(f"{user_id}:{code.replace('-', '')}".encode()).hexdigest()
            for code in user.codes
        }
        assert len(set(user.codes)) == 10

        assert await columns_holding(api, secret_needles(secret)) == []
        assert await columns_holding(api, code_needles(user.codes)) == []

    async def test_the_scan_finds_what_is_stored_in_the_clear(self, api: Api) -> None:
        # the control for the scans above: a value known to be stored is found
        email = await api.create_user()
        found = await columns_holding(api, Needles(any_case=[email.upper()], exact=[], raw=[]))
        assert "users.email" in found


# --- key rotation ----------------------------------------------------------------------
@pytest.fixture
def own_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A migrated database for this test alone (re-encryption rewrites every row)."""
    if backend == "embedded":
        url = f"sqlite+aiosqlite:///{tmp_path / 'rotation.db'}"
        in_thread(migrate_sync, url)
        yield url
    else:
        with temporary_postgres("rotation") as database:
            yield database.url


def new_key() -> str:
    return Fernet.generate_key().decode()


class TestKeyRotation:
    @pytest.mark.requirement("NIST-63B-3.1.4.2-a")
    async def test_secrets_enrolled_under_an_old_key_survive_rotation(
        self, make_api: Callable[..., Any], own_database_url: str
    ) -> None:
        old, new = new_key(), new_key()

        async with make_api(database_url=own_database_url, encryption_keys=[old]) as api:
            # confirmed with the previous step's code, leaving the current step free
            user = await mfa_user(api, confirm_offset=-STEP)
            user_id = await user_id_of(api, user.email)
        secret, email = user.app.secret, user.email

        # step 1: the new key first; the old one still opens the secret
        async with make_api(database_url=own_database_url, encryption_keys=[new, old]) as api:
            await wait_for_fresh_step()
            assert (await signed_in_with_mfa(api, email, user.app.now())).access  # by code
            assert (await signed_in_with_mfa(api, email, user.codes[0])).access  # by recovery code

            # step 2: re-encrypt everything under the new key
            resources = api.app.state.resources
            counts = await reencrypt_all(resources.sessionmaker, resources.encryptor)
            assert counts["totp_credentials"] == 1  # this database has one enrolled account
            assert counts["signing_keys"] >= 1
            ciphertext = await stored_secret(api, user_id)

        assert Fernet(new.encode()).decrypt(ciphertext.encode()).decode() == f"{user_id}:{secret}"
        with pytest.raises(InvalidToken):
            Fernet(old.encode()).decrypt(ciphertext.encode())

        # step 3: the old key is gone; a later step and another recovery code still sign in
        async with make_api(database_url=own_database_url, encryption_keys=[new]) as api:
            by_code = await signed_in_with_mfa(api, email, next_code(user.app))
            assert (await signed_in_with_mfa(api, email, user.codes[1])).access  # by recovery code
            status = await mfa_status(api, by_code.access)
            assert status == {"totp_enabled": True, "recovery_codes_remaining": 8}
