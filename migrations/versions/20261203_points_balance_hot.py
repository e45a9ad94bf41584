"""points balances keep no figure in an index: their updates stay on the page (HOT)

`ix_points_balance_balance` served the first points leaderboard, which read the balances. The
boards read the period totals' points since (`volunteer_total`), and nothing reads the balances
in order any more; the index made every balance change (one per record) write two index entries.
On PostgreSQL the table also leaves room on each page for the updated rows (fillfactor 70), as
`team_total` does; it applies to the pages written from now on (`VACUUM FULL` rewrites the
others).

Revision ID: 5e2f90b1c7d3
Revises: c4a91d7e2b58
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e2f90b1c7d3"
down_revision: str | None = "c4a91d7e2b58"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("points_balance", schema=None) as batch_op:
        batch_op.drop_index("ix_points_balance_balance")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE points_balance SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE points_balance RESET (fillfactor)")
    with op.batch_alter_table("points_balance", schema=None) as batch_op:
        batch_op.create_index("ix_points_balance_balance", ["balance"], unique=False)
