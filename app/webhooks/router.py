from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import Session, col, select

from app.apikeys.models import ApiScope
from app.auth.deps import AppSettings, Codec, integration_caller
from app.auth.principal import Principal
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
# Platform admins manage every subscription; an API key with `webhooks:manage` its own.
HookAdmin = Annotated[
    Principal, Depends(integration_caller(ApiScope.WEBHOOKS_MANAGE, admins="platform"))
]


def _subscription(
    session: Session, subscription_id: uuid.UUID, caller: Principal
) -> WebhookSubscription:
    subscription = service.get_subscription(session, subscription_id)
    if caller.api_key is not None and subscription.created_by_id != caller.id:
        raise NotFound("未找到该订阅 / no such webhook subscription", code="webhook_not_found")
    return subscription


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
    caller: HookAdmin,
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
    session: DbSession, caller: HookAdmin, page: PageQuery
) -> Page[SubscriptionOut]:
    stmt = select(WebhookSubscription)
    if caller.api_key is not None:
        stmt = stmt.where(WebhookSubscription.created_by_id == caller.id)
    rows, cursor = paginate(
        session,
        stmt,
        key=col(WebhookSubscription.id),
        params=page,
        parse_key=uuid.UUID,
    )
    return Page(items=[_out(s) for s in rows], next_cursor=cursor)


@router.get("/{subscription_id}", response_model=SubscriptionOut)
def read_subscription(
    subscription_id: uuid.UUID, session: DbSession, caller: HookAdmin
) -> SubscriptionOut:
    return _out(_subscription(session, subscription_id, caller))


@router.delete("/{subscription_id}", status_code=204)
def delete_subscription(
    subscription_id: uuid.UUID, session: DbSession, caller: HookAdmin
) -> Response:
    subscription = _subscription(session, subscription_id, caller)
    service.remove(session=session, actor=caller, subscription=subscription)
    session.commit()
    return Response(status_code=204)


@router.post("/{subscription_id}/rotate-secret", response_model=SubscriptionWithSecret)
def rotate_secret(
    subscription_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    codec: Codec,
    caller: HookAdmin,
) -> SubscriptionWithSecret:
    """A new secret, shown once. The old one keeps signing beside it (two signatures in the
    header) for `DIANDAN_WEBHOOK_SECRET_GRACE_HOURS`, so receivers can switch without a gap."""
    subscription = _subscription(session, subscription_id, caller)
    secret = service.rotate_secret(
        session=session, settings=settings, codec=codec, actor=caller, subscription=subscription
    )
    session.commit()
    return SubscriptionWithSecret(**_out(subscription).model_dump(), secret=secret)


@router.post("/{subscription_id}/enable", response_model=SubscriptionOut)
def enable_subscription(
    subscription_id: uuid.UUID, session: DbSession, caller: HookAdmin
) -> SubscriptionOut:
    """Turn a disabled subscription back on; it resumes after the changes it missed."""
    subscription = _subscription(session, subscription_id, caller)
    service.enable(session=session, actor=caller, subscription=subscription)
    session.commit()
    return _out(subscription)


@router.get("/{subscription_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(
    subscription_id: uuid.UUID,
    session: DbSession,
    caller: HookAdmin,
    page: PageQuery,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
) -> Page[DeliveryOut]:
    """Deliveries, failed ones included (the dead letters), oldest first."""
    _subscription(session, subscription_id, caller)
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
    caller: HookAdmin,
) -> DeliveryOut:
    _subscription(session, subscription_id, caller)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.subscription_id != subscription_id:
        raise NotFound("未找到该投递 / no such delivery", code="delivery_not_found")
    service.replay(session=session, delivery=delivery)
    session.commit()
    return DeliveryOut.model_validate(delivery, from_attributes=True)
