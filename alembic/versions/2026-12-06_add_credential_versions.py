"""Add users.credential_version and the version each emailed link was issued under.

Every change to what proves an account's identity (a new password, two-factor on or
off, a new address, every session ended, the account disabled) bumps the user's
version; a session starts only if the version it was proven under is still current,
and an emailed link works only while the version it was issued under is.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("credential_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("email_tokens") as batch:
        batch.add_column(
            sa.Column("credential_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("email_tokens") as batch:
        batch.drop_column("credential_version")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("credential_version")
