"""api key usage log: per-day counters and the last caller's address

Revision ID: 95e216446c81
Revises: e866d5f8ce1c
Create Date: 2026-12-01 19:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "95e216446c81"
down_revision: str | None = "e866d5f8ce1c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key_usage",
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(length=30), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ip", sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_key.id"], name=op.f("fk_api_key_usage_api_key_id_api_key")
        ),
        sa.PrimaryKeyConstraint("api_key_id", "day", "scope", name=op.f("pk_api_key_usage")),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_ip", sa.String(length=45), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_column("last_used_ip")
    op.drop_table("api_key_usage")
