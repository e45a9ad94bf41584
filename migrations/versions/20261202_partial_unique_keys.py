"""keys of optional columns as partial indexes: rows without the value add no index entry

A manual service record has no order, activity, amendment or import key, yet each of those four
indexes took an entry (NULL) for every record; so did the unsequenced change's NULL `seq` and
the points entry of a record without an order. The same uniqueness, as partial unique indexes
over the rows that have the value: NULLs never conflicted anyway.

Revision ID: 3f7d2c9a1e64
Revises: 95e216446c81
Create Date: 2026-12-02 05:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f7d2c9a1e64"
down_revision: str | None = "95e216446c81"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, index name, columns, the column that may be NULL, unique)
KEYS = [
    ("service_record", "uq_service_record_order_id_volunteer_id", ["order_id", "volunteer_id"],
     "order_id", True),
    ("service_record", "uq_service_record_activity_id_volunteer_id",
     ["activity_id", "volunteer_id"], "activity_id", True),
    ("service_record", "uq_service_record_external_ref", ["external_ref"], "external_ref", True),
    ("service_record", "ix_service_record_amends_id", ["amends_id"], "amends_id", False),
    ("points_entry", "uq_points_entry_order_id_volunteer_id_kind",
     ["order_id", "volunteer_id", "kind"], "order_id", True),
    ("change_event", "uq_change_event_seq", ["seq"], "seq", True),
]  # fmt: skip


def _where(column: str) -> dict[str, sa.TextClause]:
    clause = sa.text(f"{column} IS NOT NULL")
    return {"postgresql_where": clause, "sqlite_where": clause}


def upgrade() -> None:
    for table, name, columns, optional, unique in KEYS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            if unique:
                batch_op.drop_constraint(name, type_="unique")
            else:
                batch_op.drop_index(name)
        op.create_index(name, table, columns, unique=unique, **_where(optional))


def downgrade() -> None:
    for table, name, columns, _optional, unique in reversed(KEYS):
        op.drop_index(name, table_name=table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            if unique:
                batch_op.create_unique_constraint(name, columns)
            else:
                batch_op.create_index(name, columns, unique=False)
