from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import col, select

from app.auth.deps import AppSettings, Codec, PlatformAdmin
from app.common.pagination import Page, PageQuery, paginate
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES, NotFound
from app.webhooks import service
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from app.webhooks.schemas import (
    DeliveryOut,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionWithSecret,
)
from app.webhooks.targets import Resolver

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=PROBLEM_RESPONSES)


def _resolver(request: Request) -> Resolver:
    resolve: Resolver = request.app.state.webhook_resolver
    return resolve


def _out(subscription: WebhookSubscription) -> SubscriptionOut:
    return SubscriptionOut.model_validate(subscription, from_attributes=True)


@router.post("", response_model=SubscriptionWithSecret, status_code=201)
def create_subscription(
    body: SubscriptionCreate,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    codec: Codec,
    caller: PlatformAdmin,
) -> SubscriptionWithSecret:
    """Subscribe a URL to change types. Deliveries follow Standard Webhooks: `webhook-id`,
    `webhook-timestamp` and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of
    `id.timestamp.body` with the secret returned here, once). Payloads are thin: the change's
    entity, id, operation, region and changed fields; fetch the data through the API."""
    subscription, secret = service.subscribe(
        session=session,
        settings=settings,
        codec=codec,
        actor=caller,
        data=body,
        resolve=_resolver(request),
    )
    session.commit()
    return SubscriptionWithSecret(**_out(subscription).model_dump(), secret=secret)


@router.get("", response_model=Page[SubscriptionOut])
def list_subscriptions(
    session: DbSession, _caller: PlatformAdmin, page: PageQuery
) -> Page[SubscriptionOut]:
    rows, cursor = paginate(
        session,
        select(WebhookSubscription),
        key=col(WebhookSubscription.id),
        params=page,
        parse_key=uuid.UUID,
    )
    return Page(items=[_out(s) for s in rows], next_cursor=cursor)


@router.get("/{subscription_id}", response_model=SubscriptionOut)
def read_subscription(
    subscription_id: uuid.UUID, session: DbSession, _caller: PlatformAdmin
) -> SubscriptionOut:
    return _out(service.get_subscription(session, subscription_id))


@router.delete("/{subscription_id}", status_code=204)
def delete_subscription(
    subscription_id: uuid.UUID, session: DbSession, caller: PlatformAdmin
) -> Response:
    subscription = service.get_subscription(session, subscription_id)
    service.remove(session=session, actor=caller, subscription=subscription)
    session.commit()
    return Response(status_code=204)


@router.post("/{subscription_id}/rotate-secret", response_model=SubscriptionWithSecret)
def rotate_secret(
    subscription_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    codec: Codec,
    caller: PlatformAdmin,
) -> SubscriptionWithSecret:
    """A new secret, shown once. The old one keeps signing beside it (two signatures in the
    header) for `DIANDAN_WEBHOOK_SECRET_GRACE_HOURS`, so receivers can switch without a gap."""
    subscription = service.get_subscription(session, subscription_id)
    secret = service.rotate_secret(
        session=session, settings=settings, codec=codec, actor=caller, subscription=subscription
    )
    session.commit()
    return SubscriptionWithSecret(**_out(subscription).model_dump(), secret=secret)


@router.post("/{subscription_id}/enable", response_model=SubscriptionOut)
def enable_subscription(
    subscription_id: uuid.UUID, session: DbSession, caller: PlatformAdmin
) -> SubscriptionOut:
    """Turn a disabled subscription back on; it resumes after the changes it missed."""
    subscription = service.get_subscription(session, subscription_id)
    service.enable(session=session, actor=caller, subscription=subscription)
    session.commit()
    return _out(subscription)


@router.get("/{subscription_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(
    subscription_id: uuid.UUID,
    session: DbSession,
    _caller: PlatformAdmin,
    page: PageQuery,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
) -> Page[DeliveryOut]:
    """Deliveries, failed ones included (the dead letters), oldest first."""
    service.get_subscription(session, subscription_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status_ is not None:
        stmt = stmt.where(WebhookDelivery.status == status_.value)
    rows, cursor = paginate(
        session, stmt, key=col(WebhookDelivery.id), params=page, parse_key=uuid.UUID
    )
    return Page(
        items=[DeliveryOut.model_validate(d, from_attributes=True) for d in rows],
        next_cursor=cursor,
    )


@router.post("/{subscription_id}/deliveries/{delivery_id}/replay", response_model=DeliveryOut)
def replay_delivery(
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    session: DbSession,
    _caller: PlatformAdmin,
) -> DeliveryOut:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.subscription_id != subscription_id:
        raise NotFound("未找到该投递 / no such delivery", code="delivery_not_found")
    service.replay(session=session, delivery=delivery)
    session.commit()
    return DeliveryOut.model_validate(delivery, from_attributes=True)
