"""star levels per jurisdiction: region thresholds, eligibility notices, applications

Revision ID: 8334f98ff683
Revises: a52d9c91f45b
Create Date: 2026-12-01 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "8334f98ff683"
down_revision: str | None = "a52d9c91f45b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "star_thresholds",
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("updated_by_id", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_star_thresholds_region_code_region")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["app_user.id"],
            name=op.f("fk_star_thresholds_updated_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("region_code", name=op.f("pk_star_thresholds")),
    )
    op.create_table(
        "star_notice",
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteer.id"], name=op.f("fk_star_notice_volunteer_id_volunteer")
        ),
        sa.PrimaryKeyConstraint("volunteer_id", name=op.f("pk_star_notice")),
    )
    op.create_table(
        "star_application",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("eligible_level", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=300), nullable=True),
        sa.Column("grant_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["app_user.id"],
            name=op.f("fk_star_application_decided_by_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["star_grant.id"], name=op.f("fk_star_application_grant_id_star_grant")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteer.id"],
            name=op.f("fk_star_application_volunteer_id_volunteer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_star_application")),
    )
    with op.batch_alter_table("star_application", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_star_application_volunteer_id"), ["volunteer_id"], unique=False
        )
        batch_op.create_index(
            "uq_star_application_pending",
            ["volunteer_id"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("star_application", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_star_application_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index(batch_op.f("ix_star_application_volunteer_id"))
    op.drop_table("star_application")
    op.drop_table("star_notice")
    op.drop_table("star_thresholds")
