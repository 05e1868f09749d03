"""Re-encrypt every secret at rest under the first key of `AUTHAPI_ENCRYPTION_KEYS`.

Rotating the encryption key:

1. Put a new key first: `AUTHAPI_ENCRYPTION_KEYS=NEW,OLD`, and restart the
   instances. They encrypt with NEW from then on and still read OLD.
2. Run `authapi reencrypt`: every column marked `info=ENCRYPTED` in the models
   (signing keys, TOTP secrets, queued emails) is rewritten under NEW, in one
   transaction: all or nothing.
3. Drop OLD from the list and restart again.

Refresh tokens carry a MAC under a key derived from the encryption keys; a token
last rotated under OLD stops working once OLD is gone, so that session signs in
again. Keep OLD listed for the refresh-token lifetime to avoid even that.
Recovery codes are hashed without a key and are not affected.
"""

from __future__ import annotations

from sqlalchemy import Column, Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authapi.encryption import DecryptionFailed, Encryptor
from authapi.models import Base

BATCH_SIZE = 500


class ReencryptError(Exception):
    """A stored value none of the configured keys opens; nothing was changed."""


def encrypted_columns() -> list[tuple[Table, Column[str]]]:
    return [
        (table, column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.info.get("encrypted")
    ]


async def reencrypt_all(
    sessionmaker: async_sessionmaker[AsyncSession], encryptor: Encryptor
) -> dict[str, int]:
    """Rewrite every encrypted value under the first key; returns the count per table.

    Raises:
        ReencryptError: some value cannot be decrypted (the transaction is rolled back).
    """
    counts: dict[str, int] = {}
    async with sessionmaker.begin() as db:
        for table, column in encrypted_columns():
            counts[table.name] = await _reencrypt_column(db, encryptor, table, column)
    return counts


async def _reencrypt_column(
    db: AsyncSession, encryptor: Encryptor, table: Table, column: Column[str]
) -> int:
    (key,) = table.primary_key.columns
    rows = await db.stream(select(key, column).where(column.is_not(None)).order_by(key))
    count = 0
    async for batch in rows.partitions(BATCH_SIZE):
        for row_key, ciphertext in batch:
            try:
                rotated = encryptor.rotate(ciphertext)
            except DecryptionFailed:
                raise ReencryptError(
                    f"a value in {table.name}.{column.name} cannot be decrypted with any "
                    "configured key; nothing was changed"
                ) from None
            rewritten = await db.scalar(
                table.update()
                .where(key == row_key, column == ciphertext)  # unless it changed meanwhile
                .values({column.name: rotated})
                .returning(key)
            )
            count += rewritten is not None
    return count
