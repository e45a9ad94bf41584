from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String, text
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.orm import partial_index
from app.common.types import UTCDateTime

# What the feed reports on, and how.
ENTITIES = ("volunteer", "team", "team_member", "service_record", "order", "activity")
OPS = ("create", "update", "delete")


class ChangeEvent(SQLModel, table=True):
    """One change, written in the transaction that made it.

    `id` is the insert order. `seq`, the feed position, is given only after the change has
    committed (see `feed.sequence_pending`), so that a reader resuming after `seq` never misses a
    change that committed late with a smaller `id`.
    """

    __tablename__ = "change_event"
    __table_args__ = (
        partial_index("uq_change_event_seq", "seq"),  # given after commit (see above)
        Index(
            "ix_change_event_unsequenced",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
    )

    id: int | None = Field(
        default=None,
        primary_key=True,
        sa_type=BigInteger().with_variant(Integer(), "sqlite"),  # rowid on SQLite
    )
    seq: int | None = Field(default=None, sa_type=BigInteger)
    entity: str = Field(sa_type=String(20))
    entity_id: str = Field(max_length=36)
    op: str = Field(sa_type=String(8))
    region_code: str | None = Field(default=None, sa_type=String(12))
    fields: list[str] = Field(default_factory=list, sa_type=JSON)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChangeFeedHead(SQLModel, table=True):
    """The last feed position given; its row lock serialises the sequencers."""

    __tablename__ = "change_feed_head"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = Field(default=0, sa_type=BigInteger)
