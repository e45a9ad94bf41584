from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, HttpUrl, model_validator

from app.common.location import Location
from app.dispatch.models import DispatchMode
from app.orders.states import OrderStatus


class Channel(StrEnum):
    APP = "app"
    WECHAT = "wechat"
    HOTLINE = "hotline"  # entered by an admin for a resident who phoned
    OPEN311 = "open311"
    API = "api"  # placed by an integrator's API key (`orders:write`)


class OrderCreate(BaseModel):
    category_code: str | None = Field(
        default=None,
        max_length=40,
        examples=["care"],
        description="Required unless the order is for a team's published project",
    )
    project_id: uuid.UUID | None = Field(
        default=None, description="Ordered from the menu: a team's service project (GET /projects)"
    )
    title: str = Field(min_length=2, max_length=100, examples=["帮独居老人买药"])
    description: str = Field(default="", max_length=2000)
    address: str = Field(default="", max_length=200, examples=["曲村3组12号"])
    location: Location | None = None
    region_code: str = Field(
        pattern=r"^\d{12}$", description="The village or community where the service is needed"
    )
    window_start: datetime | None = Field(default=None, description="Wished time, from")
    window_end: datetime | None = Field(default=None, description="Wished time, until")
    people_needed: int = Field(default=1, ge=1, le=200)
    contact_name: str = Field(min_length=1, max_length=50)
    contact_phone: str | None = Field(
        default=None, max_length=20, description="Defaults to the caller's own phone number"
    )
    channel: Channel = Channel.APP
    team_id: uuid.UUID | None = Field(
        default=None, description="Ordered from this team's menu: it is asked first"
    )

    @model_validator(mode="after")
    def _window_is_ordered(self) -> OrderCreate:
        if self.category_code is None and self.project_id is None:
            raise ValueError("请选择服务类别或服务项目 / give category_code or project_id")
        for value in (self.window_start, self.window_end):
            if value is not None and value.tzinfo is None:
                raise ValueError(
                    "时间须带时区 / times need an offset, e.g. 2026-12-01T09:00:00+08:00"
                )
        if self.window_start and self.window_end and self.window_end <= self.window_start:
            raise ValueError("结束时间须晚于开始时间 / window_end must be after window_start")
        return self


class ApproveOrder(BaseModel):
    note: str | None = Field(default=None, max_length=500)


class RejectOrder(BaseModel):
    reason: str = Field(min_length=2, max_length=500, examples=["不属于志愿服务范围"])
    referral: str | None = Field(
        default=None,
        max_length=500,
        examples=["请联系镇司法所 0359-1234567"],
        description="Where else the resident can turn",
    )


class DispatchRequest(BaseModel):
    mode: DispatchMode = DispatchMode.MANUAL
    team_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _team_for_manual(self) -> DispatchRequest:
        if self.team_id is not None and self.mode is not DispatchMode.MANUAL:
            raise ValueError("team_id 只用于指派 / team_id goes with mode manual")
        return self


class DeclineOffer(BaseModel):
    reason: str = Field(min_length=2, max_length=500)


class StartService(BaseModel):
    volunteer_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200)


class HoursEntry(BaseModel):
    volunteer_id: uuid.UUID
    hours: float = Field(gt=0, le=24, description="Actual service time, travel excluded")


class CompleteService(BaseModel):
    report: str = Field(min_length=2, max_length=5000, description="结项报告: what was done")
    photos: list[HttpUrl] = Field(default_factory=list, max_length=20)
    participants: int | None = Field(default=None, ge=0, le=10_000)
    party_members: int | None = Field(default=None, ge=0, le=10_000)
    hours: list[HoursEntry] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_entry_per_volunteer(self) -> CompleteService:
        ids = [h.volunteer_id for h in self.hours]
        if len(ids) != len(set(ids)):
            raise ValueError("每位志愿者只能填写一次时长 / one hours entry per volunteer")
        return self


class CancelOrder(BaseModel):
    reason: str = Field(min_length=2, max_length=500)


class RatingCreate(BaseModel):
    stars: int = Field(ge=1, le=5)
    timeliness: int | None = Field(default=None, ge=1, le=5)
    attitude: int | None = Field(default=None, ge=1, le=5)
    result: int | None = Field(default=None, ge=1, le=5)
    comment: str = Field(default="", max_length=1000)


class RatingOut(RatingCreate):
    created_at: datetime


class TeamRef(BaseModel):
    id: uuid.UUID
    name: str


class OfferOut(BaseModel):
    team: TeamRef
    status: str
    mode: DispatchMode
    expires_at: datetime


class OrderOut(BaseModel):
    id: uuid.UUID
    status: OrderStatus
    status_label: str = Field(description="The state in Chinese, for display")
    category_code: str
    title: str
    description: str
    address: str
    location: Location | None
    region_code: str
    window_start: datetime | None
    window_end: datetime | None
    people_needed: int
    contact_name: str = Field(description="Masked for everyone but the requester")
    contact_phone: str = Field(description="Masked; see /orders/{id}/contact")
    channel: Channel
    team: TeamRef | None
    dispatch_mode: DispatchMode | None
    status_reason: str | None
    referral: str | None
    review_due_at: datetime | None
    accept_due_at: datetime | None
    complete_due_at: datetime | None
    overdue: bool = Field(description="A service-level deadline of the current state has passed")
    report: str | None
    photos: list[str]
    participants: int | None
    party_members: int | None
    volunteer_ids: list[uuid.UUID] = Field(description="Volunteers assigned by the team")
    offers: list[OfferOut] = Field(description="Open offers the caller may see")
    rating: RatingOut | None
    created_at: datetime
    updated_at: datetime


class OrderEventOut(BaseModel):
    seq: int
    kind: str
    from_status: str | None
    to_status: str | None
    actor_role: str
    reason: str | None
    data: dict[str, object]
    at: datetime


class ContactOut(BaseModel):
    contact_name: str
    contact_phone: str


class ComplaintCreate(BaseModel):
    content: str = Field(min_length=2, max_length=2000)


class ComplaintResolve(BaseModel):
    resolution: str = Field(min_length=2, max_length=2000)


class ComplaintOut(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    content: str
    status: str
    resolution: str | None
    resolved_at: datetime | None
    created_at: datetime


class CandidateOut(BaseModel):
    rank: int
    team: TeamRef
    level_distance: int = Field(description="0: the order's own site; 1: one level up; …")
    distance_km: float | None
    active_orders: int
    capacity: int
    score: float
    reasons: list[str]
