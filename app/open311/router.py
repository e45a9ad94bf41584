"""Open311 GeoReport v2, the subset an existing client needs to place and follow a request.

- Services are the catalog's categories (`service_code` = category code, names in Chinese with
  English), each `realtime`, without attributes.
- `POST requests.json` (form-encoded as the spec says, or JSON) places an order through the same
  service as `POST /orders`, on channel `open311`. Sign in with a Bearer token (the spec's
  `api_key` is not a user). GeoReport has no field for our village/community code, so the
  extension `region_code` is required; `lat`/`long` are WGS-84.
- Status: `closed` for completed, closed, cancelled and rejected orders, else `open`, with
  `status_notes` in Chinese and English. With `extensions=true` each request also carries
  `extended_attributes.fms_extended_status` (FixMyStreet's finer states): pending_review →
  confirmed; unassigned, dispatching → investigating; accepted → action scheduled;
  in_service → in progress; completed, closed → fixed; rejected → not responsible (internal
  referral when we named where else to turn); cancelled → closed.
- `expected_datetime` is the deadline of the order's current step.
- Errors use GeoReport's list format, `[{"code": 400, "description": "…"}]`, with the HTTP
  status (400 for any invalid request).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import col, select
from starlette.exceptions import HTTPException

from app.auth.deps import AppSettings, Codec, CurrentPrincipal
from app.catalog.models import Category
from app.common.location import Location
from app.db import DbSession
from app.errors import AppError, Invalid, NotFound
from app.orders import service as orders
from app.orders.models import Order
from app.orders.queries import DEADLINE_OF, visible_filter
from app.orders.schemas import Channel, OrderCreate
from app.orders.states import OrderStatus

CLOSED = {OrderStatus.COMPLETED, OrderStatus.CLOSED, OrderStatus.CANCELLED, OrderStatus.REJECTED}
NOTES = {
    OrderStatus.PENDING_REVIEW: "待审核 / in review",
    OrderStatus.REJECTED: "已驳回 / rejected",
    OrderStatus.UNASSIGNED: "待派单 / waiting for a team",
    OrderStatus.DISPATCHING: "派单中 / offered to teams",
    OrderStatus.ACCEPTED: "已接单 / a team has accepted",
    OrderStatus.IN_SERVICE: "服务中 / in service",
    OrderStatus.COMPLETED: "已完成 / served",
    OrderStatus.CLOSED: "已办结 / closed",
    OrderStatus.CANCELLED: "已取消 / cancelled",
}
FMS = {
    OrderStatus.PENDING_REVIEW: "confirmed",
    OrderStatus.UNASSIGNED: "investigating",
    OrderStatus.DISPATCHING: "investigating",
    OrderStatus.ACCEPTED: "action scheduled",
    OrderStatus.IN_SERVICE: "in progress",
    OrderStatus.COMPLETED: "fixed",
    OrderStatus.CLOSED: "fixed",
    OrderStatus.REJECTED: "not responsible",
    OrderStatus.CANCELLED: "closed",
}


def _errors(status: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": status, "description": description}], status_code=status)


class GeoReportRoute(APIRoute):
    """Turns every error of these routes into GeoReport's error list."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except AppError as exc:  # GeoReport clients know 400 for a bad request, not 422
                return _errors(400 if exc.status == 422 else exc.status, exc.detail)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
                return _errors(400, f"{where}: {first.get('msg', 'invalid')}".strip(": "))
            except HTTPException as exc:
                return _errors(exc.status_code, str(exc.detail))

        return route


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=GeoReportRoute)


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool = False
    type: str = "realtime"
    keywords: str
    group: str


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[dict[str, Any]] = []


class GeoReportIn(BaseModel):
    service_code: str = Field(max_length=40)
    lat: float = Field(ge=-90, le=90)
    long: float = Field(ge=-180, le=180)
    region_code: str = Field(pattern=r"^\d{12}$", description="Our extension: village/community")
    address_string: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    first_name: str = Field(default="", max_length=25)
    last_name: str = Field(default="", max_length=25)
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=100)
    media_url: str | None = Field(default=None, max_length=500)


class CreatedOut(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None = None


class RequestOut(BaseModel):
    service_request_id: str
    status: str
    status_notes: str
    service_name: str
    service_code: str
    description: str
    agency_responsible: str = ""
    service_notice: str = ""
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str
    address_id: str = ""
    zipcode: str = ""
    lat: float | None
    long: float | None
    media_url: str = ""
    extended_attributes: dict[str, Any] | None = None


@router.get("/services.json", response_model=list[ServiceOut])
def services(session: DbSession) -> list[ServiceOut]:
    rows = session.exec(
        select(Category).where(col(Category.active)).order_by(col(Category.sort_order))
    ).all()
    return [
        ServiceOut(
            service_code=c.code,
            service_name=f"{c.name_zh} {c.name_en}",
            description=c.description or c.name_zh,
            keywords=",".join([c.name_zh, c.name_en]),
            group="志愿服务 volunteer service",
        )
        for c in rows
    ]


@router.get("/services/{code}.json", response_model=ServiceDefinition)
def service_definition(code: str, session: DbSession) -> ServiceDefinition:
    category = session.get(Category, code)
    if category is None or not category.active:
        raise NotFound("未知的服务 / unknown service_code")
    return ServiceDefinition(service_code=category.code)


async def _fields(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        return body if isinstance(body, dict) else {}
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and not k.startswith("attribute[")}


@router.post("/requests.json", response_model=list[CreatedOut], status_code=201)
async def create_request(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    codec: Codec,
    caller: CurrentPrincipal,
) -> list[CreatedOut]:
    try:
        data = GeoReportIn.model_validate(await _fields(request))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Invalid(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    category = session.get(Category, data.service_code)
    if category is None or not category.active:
        raise Invalid("未知的服务 / unknown service_code")
    name = f"{data.last_name}{data.first_name}".strip() or caller.user.display_name
    order = orders.place(
        session=session,
        settings=settings,
        codec=codec,
        actor=caller,
        data=OrderCreate(
            category_code=category.code,
            title=(data.description[:30] or category.name_zh)
            if len(data.description) >= 2 or not data.description
            else category.name_zh,
            description=data.description,
            address=data.address_string,
            location=Location(lat=data.lat, lng=data.long),
            region_code=data.region_code,
            contact_name=name[:50],
            contact_phone=data.phone,
            channel=Channel.OPEN311,
        ),
    )
    session.commit()
    return [
        CreatedOut(
            service_request_id=str(order.id), service_notice=NOTES[OrderStatus(order.status)]
        )
    ]


def _out(order: Order, names: dict[str, str], extensions: bool) -> RequestOut:
    state = OrderStatus(order.status)
    deadline = DEADLINE_OF.get(state)
    extended = None
    if extensions:
        fms = (
            "internal referral" if state is OrderStatus.REJECTED and order.referral else FMS[state]
        )
        extended = {"fms_extended_status": fms, "diandan_status": state.value}
    notes = NOTES[state] + (f":{order.status_reason}" if order.status_reason else "")
    return RequestOut(
        service_request_id=str(order.id),
        status="closed" if state in CLOSED else "open",
        status_notes=notes,
        service_name=names.get(order.category_code, order.category_code),
        service_code=order.category_code,
        description=order.description,
        requested_datetime=order.created_at,
        updated_datetime=order.updated_at,
        expected_datetime=getattr(order, deadline) if deadline else None,
        address=order.address,
        lat=order.wgs_lat,
        long=order.wgs_lng,
        extended_attributes=extended,
    )


def _names(session: DbSession) -> dict[str, str]:
    return {c.code: f"{c.name_zh} {c.name_en}" for c in session.exec(select(Category)).all()}


@router.get("/requests.json", response_model=list[RequestOut], response_model_exclude_none=True)
def list_requests(
    session: DbSession,
    caller: CurrentPrincipal,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
    service_code: Annotated[str | None, Query(max_length=40)] = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    extensions: bool = False,
) -> list[RequestOut]:
    """The caller's requests (and those they may see), newest first, at most 1,000."""
    stmt = select(Order).where(visible_filter(caller))
    if service_request_id:
        try:
            ids = [
                uuid.UUID(part.strip()) for part in service_request_id.split(",") if part.strip()
            ]
        except ValueError:
            raise Invalid("无效的 service_request_id / bad service_request_id") from None
        stmt = stmt.where(col(Order.id).in_(ids))
    if service_code:
        stmt = stmt.where(Order.category_code == service_code)
    if start_date:
        stmt = stmt.where(col(Order.created_at) >= start_date)
    if end_date:
        stmt = stmt.where(col(Order.created_at) <= end_date)
    if status:
        closed = [s.value for s in CLOSED]
        stmt = stmt.where(
            col(Order.status).in_(closed)
            if status == "closed"
            else col(Order.status).not_in(closed)
        )
    rows = session.exec(stmt.order_by(col(Order.created_at).desc()).limit(1000)).all()
    names = _names(session)
    return [_out(o, names, extensions) for o in rows]


@router.get(
    "/requests/{request_id}.json", response_model=list[RequestOut], response_model_exclude_none=True
)
def read_request(
    request_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal, extensions: bool = False
) -> list[RequestOut]:
    order = orders.visible_order(session, caller, request_id)
    return [_out(order, _names(session), extensions)]
