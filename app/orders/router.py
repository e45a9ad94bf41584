from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from app.accounts.service import PHONE_CONTEXT
from app.apikeys.models import ApiScope
from app.apikeys.orders import order_for_caller
from app.audit import service as audit
from app.auth.deps import AppSettings, Codec, CurrentPrincipal, user_or_key
from app.auth.principal import Principal
from app.common.clock import utcnow
from app.common.pagination import Page, PageQuery, paginate
from app.db import DbSession, open_session
from app.errors import PROBLEM_RESPONSES, NotFound
from app.idempotency.guard import IdempotencyKey, run_once
from app.orders import service
from app.orders.models import Complaint, Order, OrderEvent
from app.orders.queries import orders_out, overdue_filter, visible_filter
from app.orders.schemas import (
    ApproveOrder,
    CancelOrder,
    ComplaintCreate,
    ComplaintOut,
    ComplaintResolve,
    CompleteService,
    ContactOut,
    OrderCreate,
    OrderEventOut,
    OrderOut,
    RatingCreate,
    RatingOut,
    RejectOrder,
    StartService,
)
from app.orders.states import OPEN, OrderStatus
from app.regions.queries import check_code
from app.regions.scope import RegionScope

router = APIRouter(tags=["orders"], responses=PROBLEM_RESPONSES)
# A signed-in resident or admin, or an API key with `orders:write` (within the key's region).
OrderPlacer = Annotated[Principal, Depends(user_or_key(ApiScope.ORDERS_WRITE))]


def _one(session: Session, caller: CurrentPrincipal, order: Order) -> OrderOut:
    return orders_out(session, caller, [order], utcnow())[0]


@router.post("/orders", response_model=OrderOut, status_code=status.HTTP_201_CREATED)
def place_order(
    body: OrderCreate,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    codec: Codec,
    caller: OrderPlacer,
    idempotency_key: IdempotencyKey = None,
) -> OrderOut | JSONResponse:
    """点单: place a service request. Categories marked auto-approved skip review. An API key
    with `orders:write` may place orders within its region: they are the key's account's, on
    channel `api`, and need `contact_phone`."""
    body = order_for_caller(caller, body)
    return run_once(
        request=request,
        session=session,
        settings=settings,
        principal_id=caller.id,
        key=idempotency_key,
        operation="POST /orders",
        body=body,
        status_code=status.HTTP_201_CREATED,
        write=lambda: _one(
            session,
            caller,
            service.place(session=session, settings=settings, codec=codec, actor=caller, data=body),
        ),
    )


@router.get("/orders", response_model=Page[OrderOut])
def list_orders(
    session: DbSession,
    caller: CurrentPrincipal,
    page: PageQuery,
    status_: Annotated[list[OrderStatus] | None, Query(alias="status")] = None,
    region: Annotated[str | None, Query(description="Only this region's subtree")] = None,
    mine: Annotated[bool, Query(description="Only orders I placed")] = False,
    team_id: uuid.UUID | None = None,
    overdue: Annotated[bool | None, Query(description="Only orders past a deadline")] = None,
) -> Page[OrderOut]:
    """Orders the caller may see: their own, their region's (admins), their team's."""
    now = utcnow()
    stmt = select(Order).where(visible_filter(caller))
    if status_:
        stmt = stmt.where(col(Order.status).in_([s.value for s in status_]))
    if region is not None:
        stmt = stmt.where(RegionScope.of([check_code(region)]).filter(col(Order.region_code)))
    if mine:
        stmt = stmt.where(Order.requester_id == caller.id)
    if team_id is not None:
        stmt = stmt.where(Order.team_id == team_id)
    if overdue:
        stmt = stmt.where(overdue_filter(now))
    rows, cursor = paginate(session, stmt, key=col(Order.id), params=page, parse_key=uuid.UUID)
    return Page(items=orders_out(session, caller, rows, now), next_cursor=cursor)


@router.get("/orders/{order_id}", response_model=OrderOut)
def read_order(order_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal) -> OrderOut:
    return _one(session, caller, service.visible_order(session, caller, order_id))


@router.get("/orders/{order_id}/contact", response_model=ContactOut)
def read_contact(
    order_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal, codec: Codec
) -> ContactOut:
    """The requester's unmasked phone, for admins over the order and the serving team's leader.
    Every read is audit-logged."""
    order = service.visible_order(session, caller, order_id)
    allowed = (
        order.requester_id == caller.id
        or caller.admin_scope.covers(order.region_code)
        or (order.team_id is not None and order.team_id in caller.led_team_ids)
    )
    if not allowed:
        raise NotFound("未找到该订单 / no such order", code="order_not_found")
    audit.record(
        session,
        actor_id=caller.id,
        action="order.contact.read",
        subject_type="order",
        subject_id=order.id,
    )
    session.commit()
    return ContactOut(
        contact_name=order.contact_name,
        contact_phone=codec.decrypt(order.contact_phone_cipher, context=PHONE_CONTEXT),
    )


@router.post("/orders/{order_id}/approve", response_model=OrderOut)
def approve_order(
    order_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
    body: ApproveOrder | None = None,
) -> OrderOut:
    """审核通过: the order joins the dispatch queue (or is dispatched at once, per category)."""
    order = service.approve(
        session=session,
        settings=settings,
        actor=caller,
        order_id=order_id,
        note=body.note if body else None,
    )
    session.commit()
    return _one(session, caller, order)


@router.post("/orders/{order_id}/reject", response_model=OrderOut)
def reject_order(
    order_id: uuid.UUID, body: RejectOrder, session: DbSession, caller: CurrentPrincipal
) -> OrderOut:
    """驳回 with a reason and, where it fits, a referral. Only the requester sees it afterwards."""
    order = service.reject(
        session=session, actor=caller, order_id=order_id, reason=body.reason, referral=body.referral
    )
    session.commit()
    return _one(session, caller, order)


@router.post("/orders/{order_id}/start", response_model=OrderOut)
def start_service(
    order_id: uuid.UUID,
    session: DbSession,
    caller: CurrentPrincipal,
    body: StartService | None = None,
) -> OrderOut:
    """The serving team's leader starts the service and names the volunteers sent."""
    order = service.start(
        session=session,
        actor=caller,
        order_id=order_id,
        volunteer_ids=body.volunteer_ids if body else [],
    )
    session.commit()
    return _one(session, caller, order)


@router.post("/orders/{order_id}/complete", response_model=OrderOut)
def complete_service(
    order_id: uuid.UUID,
    body: CompleteService,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> OrderOut:
    """结项: the completion report and each volunteer's actual service hours (travel excluded),
    stored as service records in whole minutes."""
    order = service.complete(
        session=session, settings=settings, actor=caller, order_id=order_id, data=body
    )
    session.commit()
    return _one(session, caller, order)


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
def cancel_order(
    order_id: uuid.UUID, body: CancelOrder, session: DbSession, caller: CurrentPrincipal
) -> OrderOut:
    order = service.cancel(session=session, actor=caller, order_id=order_id, reason=body.reason)
    session.commit()
    return _one(session, caller, order)


@router.post(
    "/orders/{order_id}/rating", response_model=RatingOut, status_code=status.HTTP_201_CREATED
)
def rate_order(
    order_id: uuid.UUID,
    body: RatingCreate,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> RatingOut:
    """评单: once, by the requester, on a completed order."""
    rating = service.rate(
        session=session, settings=settings, actor=caller, order_id=order_id, data=body
    )
    session.commit()
    return RatingOut(
        stars=rating.stars,
        timeliness=rating.timeliness,
        attitude=rating.attitude,
        result=rating.result,
        comment=rating.comment,
        created_at=rating.created_at,
    )


def _events_after(session: Session, order_id: uuid.UUID, after: int) -> list[OrderEventOut]:
    rows = session.exec(
        select(OrderEvent)
        .where(OrderEvent.order_id == order_id, col(OrderEvent.seq) > after)
        .order_by(col(OrderEvent.seq))
    ).all()
    return [
        OrderEventOut(
            seq=e.seq,
            kind=e.kind,
            from_status=e.from_status,
            to_status=e.to_status,
            actor_role=e.actor_role,
            reason=e.reason,
            data=e.data,
            at=e.at,
        )
        for e in rows
    ]


@router.get("/orders/{order_id}/events", response_model=list[OrderEventOut])
def list_events(
    order_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal
) -> list[OrderEventOut]:
    """The timeline: every state change with who (by role), when and why."""
    service.visible_order(session, caller, order_id)
    return _events_after(session, order_id, 0)


@router.get(
    "/orders/{order_id}/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
def stream_events(
    order_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None,
) -> StreamingResponse:
    """The timeline live, as Server-Sent Events (`id` is the event's `seq`; reconnect with
    `Last-Event-ID`). The stream ends when the order can no longer change."""
    service.visible_order(session, caller, order_id)
    session.close()
    factory: sessionmaker[Session] = request.app.state.sessionmaker

    def events() -> Iterator[str]:
        after = last_event_id or 0
        deadline = time.monotonic() + settings.stream_max_seconds
        yield "retry: 3000\n\n"
        while time.monotonic() < deadline:
            with open_session(factory, write=False) as poll:
                fresh = _events_after(poll, order_id, after)
                order = poll.get(Order, order_id)
            for event in fresh:
                after = event.seq
                payload = json.dumps(event.model_dump(mode="json"), ensure_ascii=False)
                yield f"id: {event.seq}\nevent: {event.kind}\ndata: {payload}\n\n"
            if order is None or OrderStatus(order.status) not in OPEN:
                return
            if not fresh:
                yield ": keep-alive\n\n"
            time.sleep(settings.stream_poll_seconds)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _complaint_out(c: Complaint) -> ComplaintOut:
    return ComplaintOut(
        id=c.id,
        order_id=c.order_id,
        content=c.content,
        status=c.status,
        resolution=c.resolution,
        resolved_at=c.resolved_at,
        created_at=c.created_at,
    )


@router.post(
    "/orders/{order_id}/complaints",
    response_model=ComplaintOut,
    status_code=status.HTTP_201_CREATED,
)
def file_complaint(
    order_id: uuid.UUID, body: ComplaintCreate, session: DbSession, caller: CurrentPrincipal
) -> ComplaintOut:
    complaint = service.complain(
        session=session, actor=caller, order_id=order_id, content=body.content
    )
    session.commit()
    return _complaint_out(complaint)


@router.get("/complaints", response_model=Page[ComplaintOut])
def list_complaints(
    session: DbSession,
    caller: CurrentPrincipal,
    page: PageQuery,
    status_: Annotated[str | None, Query(alias="status", pattern="^(open|resolved)$")] = None,
) -> Page[ComplaintOut]:
    """Complaints: admins see their region's, residents their own."""
    stmt = select(Complaint).where(
        (col(Complaint.requester_id) == caller.id)
        | caller.admin_scope.filter(col(Complaint.region_code))
    )
    if status_:
        stmt = stmt.where(Complaint.status == status_)
    rows, cursor = paginate(session, stmt, key=col(Complaint.id), params=page, parse_key=uuid.UUID)
    return Page(items=[_complaint_out(c) for c in rows], next_cursor=cursor)


@router.post("/complaints/{complaint_id}/resolve", response_model=ComplaintOut)
def resolve_complaint(
    complaint_id: uuid.UUID, body: ComplaintResolve, session: DbSession, caller: CurrentPrincipal
) -> ComplaintOut:
    complaint = service.resolve_complaint(
        session=session, actor=caller, complaint_id=complaint_id, resolution=body.resolution
    )
    session.commit()
    return _complaint_out(complaint)
