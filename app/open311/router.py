"""Open311 GeoReport v2, the subset an existing client needs to place and follow a request.

Endpoints (under /api/v1/open311/v2, JSON only):

- `GET services.json`: the active catalog categories as services (`service_code` = category
  code, `service_name` in Chinese, the English name and the code in `keywords`), each
  `type=realtime`, `metadata=false`.
- `GET services/{code}.json`: the definition, with an empty `attributes` list.
- `POST requests.json`: form-encoded as the spec says, or JSON. Places an order through
  `app.orders.service.place` (the same rules as `POST /orders`) on channel `open311`. The caller
  signs in with a Bearer token, or, without one, sends an integrator key with the `orders:write`
  scope as the spec's `api_key` field (or the `X-API-Key` header): the order is then the key's
  account's and must lie within the key's region. GeoReport has
  no field for our village/community, so the extension `region_code` (12 digits) is required;
  `jurisdiction_id` is taken instead when it holds such a code. `lat`/`long` are WGS-84 and
  required; `first_name`/`last_name` become the contact name (else the caller's name), `phone`
  the contact phone (else the caller's); `email`, `media_url` and `attribute[...]` are accepted
  and not stored.
- `GET requests.json`: the caller's own requests, newest first, at most 1,000. Filters:
  `service_request_id` (comma-separated; when given, the others are ignored, as the spec says),
  `service_code`, `start_date`/`end_date` (on `requested_datetime`, with an offset),
  `status=open|closed` (or both, comma-separated).
- `GET requests/{id}.json`: one request, for whoever may see the order (the orders' visibility
  rules: the requester, the region's admins, the serving team), else 404.

Status: `closed` for completed, closed (rated or closed by itself), cancelled and rejected orders,
else `open`; `status_notes` names our state in Chinese and English, with the reason of a
rejection or cancellation and the referral of a rejection. `expected_datetime` is the deadline of
the order's current step (review, acceptance, completion); closed requests have none.

With `extensions=true`, each request also carries `extended_attributes` with
`fms_extended_status`, FixMyStreet's finer states, and `diandan_status`, ours:

    pending_review          -> open                         (received, waiting for review)
    unassigned, dispatching -> investigating                (approved, looking for a team)
    accepted                -> action_scheduled             (a team has taken it on)
    in_service              -> in_progress
    completed, closed       -> fixed
    rejected                -> not_councils_responsibility  (internal_referral when we named
                                                             where to turn)
    cancelled               -> closed

The values are those of mySociety's Open311 update extension, which FixMyStreet reads.

Errors use GeoReport's list format, `[{"code": 400, "description": "…"}]`, with the same HTTP
status: 400 for any invalid request (our 422s included), 401 without a valid sign-in, 404 for
what does not exist or is not the caller's to see, 405 for a wrong method. Only this router
answers so; the rest of the API keeps RFC 9457.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from json import JSONDecodeError
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from app.apikeys.models import ApiScope
from app.apikeys.orders import order_for_caller
from app.auth.deps import (
    AppSettings,
    Codec,
    CurrentPrincipal,
    bearer_scheme,
    key_principal,
    principal_from,
)
from app.auth.principal import Principal
from app.catalog.models import Category
from app.common.location import Location
from app.db import DbSession
from app.errors import AppError, Invalid, NotFound
from app.orders import service as orders
from app.orders.models import Order
from app.orders.queries import DEADLINE_OF
from app.orders.schemas import Channel, OrderCreate
from app.orders.states import OrderStatus

CLOSED = frozenset(
    {OrderStatus.COMPLETED, OrderStatus.CLOSED, OrderStatus.CANCELLED, OrderStatus.REJECTED}
)
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
    OrderStatus.PENDING_REVIEW: "open",
    OrderStatus.UNASSIGNED: "investigating",
    OrderStatus.DISPATCHING: "investigating",
    OrderStatus.ACCEPTED: "action_scheduled",
    OrderStatus.IN_SERVICE: "in_progress",
    OrderStatus.COMPLETED: "fixed",
    OrderStatus.CLOSED: "fixed",
    OrderStatus.REJECTED: "not_councils_responsibility",
    OrderStatus.CANCELLED: "closed",
}
# Our order fields, as GeoReport names them, for the messages of an invalid request.
GEOREPORT_NAMES = {
    "category_code": "service_code",
    "address": "address_string",
    "contact_name": "first_name/last_name",
    "contact_phone": "phone",
    "title": "description",
    "location.lat": "lat",
    "location.lng": "long",
}

# The request field that an order service's refusal is about.
FIELD_OF_ERROR = {
    "unknown_category": "service_code",
    "region_not_found": "region_code",
    "region_without_site": "region_code",
    "invalid_phone": "phone",
    "contact_phone_required": "phone",
}


class GeoReportError(BaseModel):
    code: int = Field(examples=[400])
    description: str = Field(examples=["lat: Field required"])


class BadRequest(Exception):
    """One or more problems with a request, each an entry of the error list."""

    def __init__(self, descriptions: Sequence[str]) -> None:
        super().__init__("; ".join(descriptions))
        self.descriptions = list(descriptions) or ["invalid request"]


def _errors(status: int, descriptions: Sequence[str]) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        [{"code": status, "description": d} for d in descriptions],
        status_code=status,
        headers=headers,
    )


def _described(errors: Sequence[ErrorDetails | dict[str, Any]]) -> list[str]:
    """`field: message` for each validation error, with GeoReport's field names."""
    out = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc)
        where = GEOREPORT_NAMES.get(where, where)
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        out.append(f"{where}: {message}" if where else message)
    return out


class GeoReportRoute(APIRoute):
    """Turns every error of these routes into GeoReport's error list."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except BadRequest as exc:
                return _errors(400, exc.descriptions)
            except AppError as exc:  # GeoReport clients know 400 for a bad request, not 422
                return _errors(400 if exc.status == 422 else exc.status, [exc.detail])
            except RequestValidationError as exc:
                return _errors(400, _described(exc.errors()))
            except HTTPException as exc:
                return _errors(exc.status_code, [str(exc.detail)])

        return route


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": list[GeoReportError], "description": description}
    for status, description in [
        (400, "Invalid request (GeoReport error list)"),
        (401, "Not signed in (GeoReport error list)"),
        (404, "Not found, or not the caller's to see (GeoReport error list)"),
    ]
}
router = APIRouter(
    prefix="/open311/v2", tags=["open311"], route_class=GeoReportRoute, responses=ERROR_RESPONSES
)


class ServiceOut(BaseModel):
    service_code: str
    service_name: str = Field(description="The category's Chinese name")
    description: str
    metadata: bool = False
    type: str = "realtime"
    keywords: str = Field(description="Chinese and English names and the code, comma-separated")
    group: str


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[dict[str, Any]] = []


class GeoReportIn(BaseModel):
    """What a GeoReport client posts. Lengths, the region code's form and the range of the
    point are checked by `OrderCreate`, as for every order."""

    service_code: str
    lat: float
    long: float
    region_code: str | None = Field(
        default=None, description="Our extension: the 12-digit village or community code"
    )
    jurisdiction_id: str | None = Field(
        default=None, description="Taken as the region code when `region_code` is not given"
    )
    address_string: str = ""
    description: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None
    email: str | None = Field(default=None, description="Accepted, not stored")
    media_url: str | None = Field(default=None, description="Accepted, not stored")
    api_key: str | None = Field(
        default=None,
        max_length=200,
        description="An integrator key with `orders:write`, instead of a Bearer sign-in",
    )

    @model_validator(mode="after")
    def _region(self) -> GeoReportIn:
        if not self.region_code and self.jurisdiction_id and self.jurisdiction_id.isdigit():
            self.region_code = self.jurisdiction_id
        if not self.region_code:
            raise ValueError(
                "region_code: 请提供服务所在村(社区)的12位区划代码 / region_code is required: "
                "the 12-digit code of the village or community (our extension to GeoReport)"
            )
        return self


class CreatedOut(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None = None


class RequestOut(BaseModel):
    service_request_id: str
    status: str = Field(description="open or closed")
    status_notes: str
    service_name: str
    service_code: str
    description: str
    agency_responsible: str = ""
    service_notice: str = ""
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None = Field(
        default=None, description="The deadline of the order's current step"
    )
    address: str
    address_id: str = ""
    zipcode: str = ""
    lat: float | None
    long: float | None
    media_url: str = ""
    extended_attributes: dict[str, Any] | None = Field(
        default=None, description="With extensions=true: fms_extended_status, diandan_status"
    )


@router.get("/services.json", response_model=list[ServiceOut])
def services(session: DbSession) -> list[ServiceOut]:
    """The catalog's active categories as GeoReport services (public)."""
    rows = session.exec(
        select(Category).where(col(Category.active)).order_by(col(Category.sort_order))
    ).all()
    return [
        ServiceOut(
            service_code=c.code,
            service_name=c.name_zh,
            description=c.description or c.name_zh,
            keywords=",".join([c.name_zh, c.name_en, c.code]),
            group="志愿服务 volunteer service",
        )
        for c in rows
    ]


@router.get("/services/{code}.json", response_model=ServiceDefinition)
def service_definition(code: str, session: DbSession) -> ServiceDefinition:
    """A service's definition: no attributes (public)."""
    category = session.get(Category, code)
    if category is None or not category.active:
        raise NotFound("未知的服务 / unknown service_code")
    return ServiceDefinition(service_code=category.code)


async def _posted(request: Request) -> GeoReportIn:
    """The posted fields, form-encoded (the spec) or JSON."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except (JSONDecodeError, UnicodeDecodeError):
            raise BadRequest(["请求体不是有效的 JSON / the body is not valid JSON"]) from None
        if not isinstance(body, dict):
            raise BadRequest(["请求体须为 JSON 对象 / the body must be a JSON object"])
    else:
        form = await request.form()
        body = {k: v for k, v in form.items() if isinstance(v, str) and "[" not in k}
    try:
        return GeoReportIn.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(_described(exc.errors())) from None


def _title(description: str, category: Category | None) -> str:
    summary = description.strip().splitlines()[0].strip()[:30] if description.strip() else ""
    for candidate in (summary, category.name_zh if category else "", "服务请求 service request"):
        if len(candidate) >= 2:
            return candidate
    return "服务请求 service request"


async def _presented_key(request: Request) -> str | None:
    """An API key sent as the spec's `api_key` field or as `X-API-Key`, read before the body is
    validated, so that a caller without any credentials hears 401 first."""
    header = request.headers.get("x-api-key")
    if header:
        return header
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except (JSONDecodeError, UnicodeDecodeError):
            return None
        value = body.get("api_key") if isinstance(body, dict) else None
    else:
        value = (await request.form()).get("api_key")
    return value if isinstance(value, str) and value else None


async def _poster(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    presented: Annotated[str | None, Depends(_presented_key)],
) -> Principal:
    """Who posts: the signed-in caller when there is a Bearer token (clients that send a city's
    `api_key` beside it keep working), else the API key with `orders:write`."""
    if credentials is None and presented:
        return await run_in_threadpool(
            key_principal, request, session, presented, ApiScope.ORDERS_WRITE
        )
    return await principal_from(session, settings, credentials)


GEOREPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": GeoReportIn.model_json_schema()}
            for media in ("application/x-www-form-urlencoded", "application/json")
        },
    }
}


@router.post(
    "/requests.json",
    response_model=list[CreatedOut],
    response_model_exclude_none=True,
    status_code=201,
    openapi_extra=GEOREPORT_BODY,
)
def create_request(
    session: DbSession,
    settings: AppSettings,
    codec: Codec,
    caller: Annotated[Principal, Depends(_poster)],
    data: Annotated[GeoReportIn, Depends(_posted)],
) -> list[CreatedOut]:
    """Place a request: an order on channel `open311`, by the signed-in caller or the account of
    an API key with `orders:write` (`api_key`), within the key's region."""
    # Only to name the order; `place` decides whether the service exists and is active.
    category = session.get(Category, data.service_code)
    name = f"{data.last_name}{data.first_name}".strip() or caller.user.display_name.strip()
    try:
        order_data = OrderCreate(
            category_code=data.service_code,
            title=_title(data.description, category),
            description=data.description,
            address=data.address_string.strip(),
            location=Location(lat=data.lat, lng=data.long),
            region_code=data.region_code or "",
            contact_name=name or "居民 resident",
            contact_phone=data.phone or None,
            channel=Channel.OPEN311,
        )
    except ValidationError as exc:
        raise BadRequest(_described(exc.errors())) from None
    order_data = order_for_caller(caller, order_data, key_channel=Channel.OPEN311)
    try:
        order = orders.place(
            session=session, settings=settings, codec=codec, actor=caller, data=order_data
        )
    except (Invalid, NotFound) as exc:  # an unknown region is a bad field of the request here
        field = FIELD_OF_ERROR.get(exc.code)
        raise BadRequest([f"{field}: {exc.detail}" if field else exc.detail]) from None
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
            "internal_referral" if state is OrderStatus.REJECTED and order.referral else FMS[state]
        )
        extended = {"fms_extended_status": fms, "diandan_status": state.value}
    notes = NOTES[state]
    if order.status_reason:
        notes += f":{order.status_reason}"
    if state is OrderStatus.REJECTED and order.referral:
        notes += f"(转介 / referral:{order.referral})"
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
    return {c.code: c.name_zh for c in session.exec(select(Category)).all()}


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise BadRequest([f"{name}: 时间须带时区 / give an offset, e.g. 2026-11-01T00:00:00+08:00"])
    return value


def _statuses(raw: str | None) -> set[str]:
    wanted = {part.strip() for part in (raw or "").split(",") if part.strip()}
    if not wanted <= {"open", "closed"}:
        raise BadRequest(["status: 只能是 open 或 closed / status is open or closed"])
    return wanted


@router.get("/requests.json", response_model=list[RequestOut], response_model_exclude_none=True)
def list_requests(
    session: DbSession,
    caller: CurrentPrincipal,
    service_request_id: Annotated[
        str | None, Query(max_length=4000, description="Comma-separated; the others are ignored")
    ] = None,
    service_code: Annotated[str | None, Query(max_length=40)] = None,
    start_date: Annotated[datetime | None, Query(description="With an offset")] = None,
    end_date: Annotated[datetime | None, Query(description="With an offset")] = None,
    status: Annotated[
        str | None, Query(max_length=20, description="open, closed, or open,closed")
    ] = None,
    extensions: bool = False,
) -> list[RequestOut]:
    """The caller's own requests, newest first, at most 1,000."""
    stmt = select(Order).where(Order.requester_id == caller.id)
    if service_request_id:
        try:
            ids = {uuid.UUID(p.strip()) for p in service_request_id.split(",") if p.strip()}
        except ValueError:
            raise BadRequest(["service_request_id: 无效的编号 / not a request id"]) from None
        stmt = stmt.where(col(Order.id).in_(ids))
    else:
        start, end = _aware("start_date", start_date), _aware("end_date", end_date)
        wanted = _statuses(status)
        if service_code:
            stmt = stmt.where(Order.category_code == service_code)
        if start is not None:
            stmt = stmt.where(col(Order.created_at) >= start)
        if end is not None:
            stmt = stmt.where(col(Order.created_at) <= end)
        if len(wanted) == 1:
            closed = [s.value for s in CLOSED]
            stmt = stmt.where(
                col(Order.status).in_(closed)
                if "closed" in wanted
                else col(Order.status).not_in(closed)
            )
    rows = session.exec(stmt.order_by(col(Order.created_at).desc()).limit(1000)).all()
    names = _names(session)
    return [_out(o, names, extensions) for o in rows]


@router.get(
    "/requests/{request_id}.json", response_model=list[RequestOut], response_model_exclude_none=True
)
def read_request(
    request_id: str, session: DbSession, caller: CurrentPrincipal, extensions: bool = False
) -> list[RequestOut]:
    """One request, if the caller may see the order."""
    try:
        order_id = uuid.UUID(request_id)
    except ValueError:
        raise NotFound("未找到该请求 / no such request") from None
    order = orders.visible_order(session, caller, order_id)
    return [_out(order, _names(session), extensions)]


@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
def elsewhere(rest: str) -> None:
    """Anything else under the prefix: still an error list, not a problem document."""
    local = f"{router.prefix}/{rest}"
    for route in router.routes:
        if (
            isinstance(route, APIRoute)
            and route.endpoint is not elsewhere
            and route.path_regex.match(local)
        ):
            raise HTTPException(405, "不支持该方法 / method not allowed")
    if rest.endswith(".xml"):
        raise NotFound("只提供 JSON 格式 / only the JSON format is served (.json)")
    raise NotFound("未找到 / not found")
