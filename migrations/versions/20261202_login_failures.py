"""password sign-in failures per username, for the lockout

Revision ID: 8b41e0c5d2a7
Revises: 3f7d2c9a1e64
Create Date: 2026-12-02 06:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8b41e0c5d2a7"
down_revision: str | None = "3f7d2c9a1e64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username_hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failure")),
    )
    op.create_index(
        "ix_login_failure_username_hash_at", "login_failure", ["username_hash", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_login_failure_username_hash_at", table_name="login_failure")
    op.drop_table("login_failure")
