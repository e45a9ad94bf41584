"""points and rating period totals of volunteers and teams

Revision ID: e866d5f8ce1c
Revises: 8334f98ff683
Create Date: 2026-12-01 19:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "e866d5f8ce1c"
down_revision: str | None = "8334f98ff683"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = {"volunteer_score_total": "volunteer", "team_score_total": "team"}


def upgrade() -> None:
    for name, owner in TABLES.items():
        op.create_table(
            name,
            sa.Column(f"{owner}_id", sa.Uuid(), nullable=False),
            sa.Column("period_kind", sa.String(length=8), nullable=False),
            sa.Column("period", sa.Integer(), nullable=False),
            sa.Column("region_code", sa.String(length=12), nullable=False),
            sa.Column("points", sa.BigInteger(), nullable=False),
            sa.Column("rating_sum", sa.Integer(), nullable=False),
            sa.Column("rating_count", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                [f"{owner}_id"], [f"{owner}.id"], name=op.f(f"fk_{name}_{owner}_id_{owner}")
            ),
            sa.PrimaryKeyConstraint(
                f"{owner}_id", "period_kind", "period", name=op.f(f"pk_{name}")
            ),
        )
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.create_index(
                f"ix_{name}_points", ["period_kind", "period", "points"], unique=False
            )
            batch_op.create_index(
                f"ix_{name}_region",
                ["period_kind", "period", "region_code", "points"],
                unique=False,
            )
    _backfill_score_totals()


def _china_day(column: sa.ColumnElement[object]) -> sa.ColumnElement[object]:
    if op.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("Asia/Shanghai", column), sa.Date)
    return sa.func.date(column, "+8 hours")


def _period(kind: str, day: sa.ColumnElement[object]) -> sa.ColumnElement[int]:
    year = sa.cast(sa.extract("year", day), sa.Integer)
    month = sa.cast(sa.extract("month", day), sa.Integer)
    return {
        "all": sa.literal(0),
        "year": year,
        "quarter": year * 10 + (month + 2) // 3,
        "month": year * 100 + month,
    }[kind]


def _backfill_score_totals() -> None:
    """Totals of the points entries and ratings already there (what `python -m
    app.scoring.recompute` computes; written out so that the migration does not depend on
    today's app code). Redemptions do not count; points for a record count on its service date
    and for its team, five-star bonuses for the rated team; the rest on the day (China time)
    they were given."""
    entry = sa.table(
        "points_entry",
        sa.column("volunteer_id"), sa.column("delta", sa.Integer), sa.column("kind"),
        sa.column("record_id"), sa.column("order_id"), sa.column("created_at", sa.DateTime),
    )  # fmt: skip
    record = sa.table(
        "service_record",
        sa.column("id"), sa.column("volunteer_id"), sa.column("team_id"),
        sa.column("order_id"), sa.column("service_date", sa.Date),
    )  # fmt: skip
    rating = sa.table(
        "order_rating",
        sa.column("order_id"), sa.column("team_id"), sa.column("stars", sa.Integer),
        sa.column("created_at", sa.DateTime),
    )  # fmt: skip
    given, rated_on = _china_day(entry.c.created_at), _china_day(rating.c.created_at)
    zero, one = sa.literal(0), sa.literal(1)
    not_spent = entry.c.kind != "redeem"
    served = (
        sa.select(record.c.order_id, record.c.volunteer_id)
        .where(record.c.order_id.is_not(None))
        .distinct()
        .subquery()
    )
    sources = {
        "volunteer_score_total": [
            (entry.c.volunteer_id, sa.func.coalesce(record.c.service_date, given), entry.c.delta,
             zero, zero, sa.join(entry, record, record.c.id == entry.c.record_id, isouter=True),
             [not_spent]),
            (served.c.volunteer_id, rated_on, zero, rating.c.stars, one,
             sa.join(rating, served, served.c.order_id == rating.c.order_id), []),
        ],
        "team_score_total": [
            (record.c.team_id, record.c.service_date, entry.c.delta, zero, zero,
             sa.join(entry, record, record.c.id == entry.c.record_id), [not_spent]),
            (rating.c.team_id, given, entry.c.delta, zero, zero,
             sa.join(entry, rating, rating.c.order_id == entry.c.order_id),
             [entry.c.kind == "bonus"]),
            (rating.c.team_id, rated_on, zero, rating.c.stars, one, rating, []),
        ],
    }  # fmt: skip
    for name, owner in TABLES.items():
        parts = [
            sa.select(
                who.label("owner"), sa.literal(kind).label("period_kind"),
                _period(kind, day).label("period"), points.label("points"),
                stars.label("rating_sum"), ratings.label("rating_count"),
            ).select_from(source).where(*where)
            for who, day, points, stars, ratings, source, where in sources[name]
            for kind in ("all", "year", "quarter", "month")
        ]  # fmt: skip
        moved = sa.union_all(*parts).subquery()
        home = sa.table(owner, sa.column("id"), sa.column("region_code"))
        computed = (
            sa.select(
                moved.c.owner, moved.c.period_kind, moved.c.period, home.c.region_code,
                sa.func.sum(moved.c.points), sa.func.sum(moved.c.rating_sum),
                sa.func.sum(moved.c.rating_count),
            )
            .join(home, home.c.id == moved.c.owner)
            .group_by(moved.c.owner, moved.c.period_kind, moved.c.period, home.c.region_code)
        )  # fmt: skip
        columns = [f"{owner}_id", "period_kind", "period", "region_code", "points",
                   "rating_sum", "rating_count"]  # fmt: skip
        total = sa.table(name, *(sa.column(c) for c in columns))
        op.execute(total.insert().from_select(columns, computed))


def downgrade() -> None:
    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{name}_region")
            batch_op.drop_index(f"ix_{name}_points")
        op.drop_table(name)
