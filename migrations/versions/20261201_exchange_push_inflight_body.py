"""push connector: keep the in-flight batch's body; count its runs; replays with keys of their own

Revision ID: 20f2e7826d24
Revises: 4a62e37b4882
Create Date: 2026-12-01 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "20f2e7826d24"
down_revision: str | None = "4a62e37b4882"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("push_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inflight_first_seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("inflight_body", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("inflight_runs", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("push_dead_letter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replays", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("inflight_key", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("inflight_body", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("inflight_runs", sa.Integer(), nullable=False, server_default="0")
        )
    # A batch left in flight by the previous version has no stored body: it is cut again from
    # its start (the same first change), which the receiver sees as a new batch.
    op.execute("UPDATE push_state SET inflight_last_seq = NULL")


def downgrade() -> None:
    with op.batch_alter_table("push_dead_letter", schema=None) as batch_op:
        batch_op.drop_column("inflight_runs")
        batch_op.drop_column("inflight_body")
        batch_op.drop_column("inflight_key")
        batch_op.drop_column("replays")
    with op.batch_alter_table("push_state", schema=None) as batch_op:
        batch_op.drop_column("inflight_runs")
        batch_op.drop_column("inflight_body")
        batch_op.drop_column("inflight_first_seq")
