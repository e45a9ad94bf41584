"""points and ratings move into the hours period totals: one row per owner and period

A record moves one total row per period and owner, for its hours and its points alike (it
moved two before). `volunteer_score_total` and `team_score_total` are merged into
`volunteer_total` and `team_total` and dropped.

Revision ID: c4a91d7e2b58
Revises: 8b41e0c5d2a7
Create Date: 2026-12-02 07:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4a91d7e2b58"
down_revision: str | None = "8b41e0c5d2a7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNERS = {"volunteer": ("volunteer_total", "volunteer_score_total"),
          "team": ("team_total", "team_score_total")}  # fmt: skip
SCORES = ("points", "rating_sum", "rating_count")


def _score_columns() -> list[sa.Column[int]]:
    return [
        sa.Column("points", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("rating_sum", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rating_count", sa.Integer(), nullable=False, server_default="0"),
    ]


def upgrade() -> None:
    for total, _ in OWNERS.values():
        for column in _score_columns():
            op.add_column(total, column)
    op.create_index("ix_volunteer_total_points", "volunteer_total", ["period_kind", "period", "points"])
    op.create_index(
        "ix_volunteer_total_region_points",
        "volunteer_total",
        ["period_kind", "period", "region_code", "points"],
    )
    # Team rows are few: their boards sort a region's rows, and no index holds a figure, so
    # that moving them is an update in place (HOT), with room left on every page for it.
    op.drop_index("ix_team_total_board", table_name="team_total")
    op.drop_index("ix_team_total_region", table_name="team_total")
    op.create_index("ix_team_total_region", "team_total", ["period_kind", "period", "region_code"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE team_total SET (fillfactor = 70)")
    merge_score_tables()


def merge_score_tables() -> None:
    """Each score row into the total row of its owner and period (created where the owner had
    no hours then), and the score tables dropped."""
    for owner, (total, score) in OWNERS.items():
        # `WHERE true`: SQLite needs it to read ON CONFLICT after a SELECT.
        op.execute(
            f"INSERT INTO {total} ({owner}_id, period_kind, period, region_code, minutes, "  # noqa: S608
            f"records, points, rating_sum, rating_count) "
            f"SELECT {owner}_id, period_kind, period, region_code, 0, 0, points, rating_sum, "
            f"rating_count FROM {score} WHERE true "
            f"ON CONFLICT ({owner}_id, period_kind, period) DO UPDATE SET "
            "points = excluded.points, rating_sum = excluded.rating_sum, "
            "rating_count = excluded.rating_count"
        )
        op.drop_index(f"ix_{score}_region", table_name=score)
        op.drop_index(f"ix_{score}_points", table_name=score)
        op.drop_table(score)


def downgrade() -> None:
    """The score tables again, with every row that holds points or ratings; rows a record moved
    away and that held only points stay behind as zero rows (`python -m app.scoring.recompute`
    rebuilds both exactly)."""
    op.drop_index("ix_volunteer_total_region_points", table_name="volunteer_total")
    op.drop_index("ix_volunteer_total_points", table_name="volunteer_total")
    op.drop_index("ix_team_total_region", table_name="team_total")
    for owner, (total, score) in OWNERS.items():
        op.create_table(
            score,
            sa.Column(f"{owner}_id", sa.Uuid(), nullable=False),
            sa.Column("period_kind", sa.String(length=8), nullable=False),
            sa.Column("period", sa.Integer(), nullable=False),
            sa.Column("region_code", sa.String(length=12), nullable=False),
            sa.Column("points", sa.BigInteger(), nullable=False),
            sa.Column("rating_sum", sa.Integer(), nullable=False),
            sa.Column("rating_count", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                [f"{owner}_id"], [f"{owner}.id"], name=op.f(f"fk_{score}_{owner}_id_{owner}")
            ),
            sa.PrimaryKeyConstraint(
                f"{owner}_id", "period_kind", "period", name=op.f(f"pk_{score}")
            ),
        )
        op.create_index(f"ix_{score}_points", score, ["period_kind", "period", "points"])
        op.create_index(
            f"ix_{score}_region", score, ["period_kind", "period", "region_code", "points"]
        )
        op.execute(
            f"INSERT INTO {score} ({owner}_id, period_kind, period, region_code, points, "  # noqa: S608
            f"rating_sum, rating_count) SELECT {owner}_id, period_kind, period, region_code, "
            f"points, rating_sum, rating_count FROM {total} "
            "WHERE points <> 0 OR rating_sum <> 0 OR rating_count <> 0"
        )
        with op.batch_alter_table(total, schema=None) as batch_op:
            for name in SCORES:
                batch_op.drop_column(name)
    op.create_index("ix_team_total_board", "team_total", ["period_kind", "period", "minutes"])
    op.create_index(
        "ix_team_total_region", "team_total", ["period_kind", "period", "region_code", "minutes"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE team_total RESET (fillfactor)")
