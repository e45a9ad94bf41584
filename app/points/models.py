from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.orm import partial_index
from app.common.types import UTCDateTime


class PointsPolicy(SQLModel, table=True):
    """The earning rules (one row), set by platform admins; changes are audited."""

    __tablename__ = "points_policy"

    id: int = Field(default=1, primary_key=True)
    points_per_hour: float = 10.0
    five_star_bonus: int = 5
    # Weights per category code (e.g. {"legal_aid": 1.5}); 1 where not listed.
    category_weights: dict[str, float] = Field(default_factory=dict, sa_type=JSON)
    updated_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PointsKind(StrEnum):
    EARN = "earn"  # service time of a record (or its amendment)
    BONUS = "bonus"  # the served order was rated five stars
    ADJUST = "adjust"  # an admin's adjustment, with a reason
    REDEEM = "redeem"  # spent on a reward


class PointsEntry(SQLModel, table=True):
    """The points ledger: a balance is always the sum of its volunteer's entries."""

    __tablename__ = "points_entry"
    __table_args__ = (
        UniqueConstraint("record_id", "kind"),
        partial_index(
            "uq_points_entry_order_id_volunteer_id_kind", "order_id", "volunteer_id", "kind"
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id", index=True)
    delta: int
    kind: str = Field(sa_type=String(10))
    record_id: uuid.UUID | None = Field(default=None, foreign_key="service_record.id")
    order_id: uuid.UUID | None = Field(default=None, foreign_key="service_order.id")
    redemption_id: uuid.UUID | None = Field(default=None, foreign_key="redemption.id")
    reason: str = Field(default="", max_length=300)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PointsBalance(SQLModel, table=True):
    __tablename__ = "points_balance"
    # No index on the balance: nothing reads balances in order (the points boards read the
    # period totals), and without one a balance change can stay on its page (HOT).
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id", primary_key=True)
    balance: int = 0


class RewardItem(SQLModel, table=True):
    """Something volunteers can redeem points for (积分兑换), offered by a site for its region."""

    __tablename__ = "reward_item"
    __table_args__ = (CheckConstraint("stock >= 0", name="stock_not_negative"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=100)
    description: str = Field(default="", max_length=500)
    points: int
    stock: int
    region_code: str = Field(foreign_key="region.code", index=True, sa_type=String(12))
    active: bool = True
    created_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Redemption(SQLModel, table=True):
    __tablename__ = "redemption"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    item_id: uuid.UUID = Field(foreign_key="reward_item.id", index=True)
    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id", index=True)
    quantity: int
    points: int
    region_code: str = Field(sa_type=String(12), index=True)  # the volunteer's, for admins
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
