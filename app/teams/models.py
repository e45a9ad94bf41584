from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.location import LocatedRow
from app.common.types import UTCDateTime


class TeamStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DISSOLVED = "dissolved"


class MemberRole(StrEnum):
    LEADER = "leader"
    MEMBER = "member"


class Team(LocatedRow, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=100)
    site_id: uuid.UUID = Field(foreign_key="site.id", index=True)
    # The home site's region, kept here so scope filters and dispatch need no join.
    region_code: str = Field(foreign_key="region.code", index=True, sa_type=String(12))
    brand: str | None = Field(default=None, max_length=30)
    description: str = Field(default="", max_length=1000)
    service_radius_km: float | None = None
    capacity: int = Field(default=3, description="Requests the team can hold at once")
    # Orders the team holds now (accepted or in service). Changed only by compare-and-set
    # (`active_orders < capacity`), so that capacity holds under concurrent accepts.
    active_orders: int = 0
    status: str = Field(default=TeamStatus.ACTIVE.value, sa_type=String(12))
    founded_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TeamSpecialty(SQLModel, table=True):
    __tablename__ = "team_specialty"

    team_id: uuid.UUID = Field(foreign_key="team.id", primary_key=True)
    category_code: str = Field(
        foreign_key="category.code", primary_key=True, index=True, sa_type=String(40)
    )


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_member"

    __table_args__ = (
        UniqueConstraint("team_id", "volunteer_id"),
        # Backstop for the service rule: a team has at most one leader.
        Index(
            "uq_team_member_one_leader",
            "team_id",
            unique=True,
            sqlite_where=text("role = 'leader'"),
            postgresql_where=text("role = 'leader'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    team_id: uuid.UUID = Field(foreign_key="team.id", index=True)
    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id", index=True)
    role: str = Field(default=MemberRole.MEMBER.value, sa_type=String(10))
    joined_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ServiceProject(SQLModel, table=True):
    """A service a team publishes on the menu (服务项目): residents can order it directly."""

    __tablename__ = "service_project"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    team_id: uuid.UUID = Field(foreign_key="team.id", index=True)
    category_code: str = Field(foreign_key="category.code", index=True, sa_type=String(40))
    title: str = Field(max_length=100)
    description: str = Field(default="", max_length=1000)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
