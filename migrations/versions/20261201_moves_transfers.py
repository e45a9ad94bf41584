"""volunteer transfers: the history of a volunteer's moves between regions and teams

Revision ID: a52d9c91f45b
Revises: 0e77fcbb2ab9
Create Date: 2026-12-01 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "a52d9c91f45b"
down_revision: str | None = "0e77fcbb2ab9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "volunteer_transfer",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("from_region_code", sa.String(length=12), nullable=False),
        sa.Column("to_region_code", sa.String(length=12), nullable=False),
        sa.Column("left_team_ids", sa.JSON(), nullable=False),
        sa.Column("to_team_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("moved_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["moved_by_id"],
            ["app_user.id"],
            name=op.f("fk_volunteer_transfer_moved_by_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["to_region_code"],
            ["region.code"],
            name=op.f("fk_volunteer_transfer_to_region_code_region"),
        ),
        sa.ForeignKeyConstraint(
            ["to_team_id"], ["team.id"], name=op.f("fk_volunteer_transfer_to_team_id_team")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteer.id"],
            name=op.f("fk_volunteer_transfer_volunteer_id_volunteer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_transfer")),
    )
    with op.batch_alter_table("volunteer_transfer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volunteer_transfer_volunteer_id"), ["volunteer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("volunteer_transfer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_transfer_volunteer_id"))
    op.drop_table("volunteer_transfer")
