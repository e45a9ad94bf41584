"""ledger: omission requests, corrections of date/times/category, append-only service records

Correction requests may name no record (an omission: the volunteer states date, duration,
content, team or activity); every request carries the team and region that decide it. On
PostgreSQL a trigger refuses UPDATE and DELETE of service records: the ledger is append-only
(corrections are amendment rows; the service's rating is read from the order's rating).

Revision ID: 2e53f2664687
Revises: 20f2e7826d24
Create Date: 2026-12-01 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2e53f2664687"
down_revision: str | None = "20f2e7826d24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION service_record_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'service_record is append-only: % refused (correct by amendment)', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER service_record_append_only
    BEFORE UPDATE OR DELETE ON service_record
    FOR EACH ROW EXECUTE FUNCTION service_record_append_only()
"""


def upgrade() -> None:
    with op.batch_alter_table("correction_request", schema=None) as batch_op:
        batch_op.alter_column("record_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(
            sa.Column("omission", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("team_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("region_code", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("activity_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("category_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("service_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("place", sa.String(length=200), nullable=True))
    op.execute(
        "UPDATE correction_request SET team_id = "
        "(SELECT service_record.team_id FROM service_record "
        "WHERE service_record.id = correction_request.record_id)"
    )
    op.execute(
        "UPDATE correction_request SET region_code = "
        "(SELECT team.region_code FROM team WHERE team.id = correction_request.team_id)"
    )
    with op.batch_alter_table("correction_request", schema=None) as batch_op:
        batch_op.alter_column("team_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column("region_code", existing_type=sa.String(length=12), nullable=False)
        batch_op.create_index(
            batch_op.f("ix_correction_request_team_id"), ["team_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_correction_request_team_id_team"), "team", ["team_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_correction_request_region_code_region"),
            "region",
            ["region_code"],
            ["code"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_correction_request_activity_id_activity"),
            "activity",
            ["activity_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_correction_request_category_code_category"),
            "category",
            ["category_code"],
            ["code"],
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER service_record_append_only ON service_record")
        op.execute("DROP FUNCTION service_record_append_only()")
    op.execute("DELETE FROM correction_request WHERE record_id IS NULL")
    with op.batch_alter_table("correction_request", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_correction_request_category_code_category"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_correction_request_activity_id_activity"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_correction_request_region_code_region"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_correction_request_team_id_team"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_correction_request_team_id"))
        batch_op.drop_column("place")
        batch_op.drop_column("ended_at")
        batch_op.drop_column("started_at")
        batch_op.drop_column("service_date")
        batch_op.drop_column("category_code")
        batch_op.drop_column("activity_id")
        batch_op.drop_column("region_code")
        batch_op.drop_column("team_id")
        batch_op.drop_column("omission")
        batch_op.alter_column("record_id", existing_type=sa.Uuid(), nullable=False)
