"""Subscriptions, the fan-out of feed changes into deliveries, and delivery with retries."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, delete, select

from app.accounts.models import GrantedRole, RoleGrant, User
from app.apikeys.models import ApiKey
from app.audit import service as audit
from app.auth.principal import ApiKeyGrant, Principal
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.db import open_session
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.integrations.webhooks import WebhookSender
from app.notifications.outbox import notify
from app.regions.queries import get_region
from app.regions.scope import RegionScope
from app.sync.feed import read_changes, sequence_pending
from app.sync.models import ENTITIES, OPS, ChangeEvent
from app.webhooks import signing
from app.webhooks.models import (
    DeliveryStatus,
    SubscriptionStatus,
    WebhookDelivery,
    WebhookSubscription,
)
from app.webhooks.schemas import SubscriptionCreate
from app.webhooks.targets import Resolver, check_target

SECRET_CONTEXT = "webhook-secret"  # noqa: S105  (an encryption context label)
# Standard Webhooks' schedule: the delay after the n-th failed attempt (then give up).
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
LEASE = timedelta(minutes=2)
FAN_OUT_BATCH = 500


def check_event_types(types: list[str]) -> list[str]:
    for pattern in types:
        entity, _, op = pattern.partition(".")
        if pattern == "*" or (entity in ENTITIES and op in (*OPS, "*")):
            continue
        raise Invalid(
            f"未知的事件类型 / unknown event type {pattern!r}: use entity.op, entity.* or *; "
            f"entities {', '.join(ENTITIES)}; ops {', '.join(OPS)}",
            code="bad_event_type",
        )
    return sorted(set(types))


# The read scope that lets a key hear of an entity's changes; `changes:read` hears of all.
ENTITY_SCOPES = {
    "volunteer": "volunteers:read",
    "team": "teams:read",
    "team_member": "teams:read",
    "service_record": "records:read",
    "activity": "activities:read",
}
ALL_CHANGES = "changes:read"


def check_key_may_hear(grant: ApiKeyGrant, types: list[str]) -> None:
    """A key subscribes only to what its read scopes let it read: an entity's changes need that
    entity's read scope (orders and `*` need `changes:read`, as the change feed does)."""
    if ALL_CHANGES in grant.scopes:
        return
    for pattern in types:
        needed = ENTITY_SCOPES.get(pattern.partition(".")[0], ALL_CHANGES)
        if needed not in grant.scopes:
            raise Forbidden(
                f"该密钥没有 {needed} 权限，不能订阅 {pattern} / this key lacks the {needed} "
                f"scope that {pattern!r} needs",
                code="scope_required",
            )


def matches(types: list[str], event_type: str) -> bool:
    entity = event_type.partition(".")[0]
    return "*" in types or event_type in types or f"{entity}.*" in types


def subscribe(
    *,
    session: Session,
    settings: Settings,
    codec: SensitiveCodec,
    actor: Principal,
    data: SubscriptionCreate,
    resolve: Resolver,
) -> tuple[WebhookSubscription, str]:
    check_target(data.url, https_only=settings.webhook_https_only_value, resolve=resolve)
    region = get_region(session, data.region_code).code if data.region_code else None
    event_types = check_event_types(data.event_types)
    if actor.api_key is not None:
        check_key_may_hear(actor.api_key, event_types)
    if actor.api_key is not None and actor.api_key.region_code is not None:
        # A key limited to a region hears only of that region.
        region = region or actor.api_key.region_code
        if not actor.admin_scope.covers(region):
            raise Forbidden(
                "该密钥不能订阅其区域以外的变更 / outside this key's region", code="out_of_region"
            )
    secret = signing.new_secret()
    # Start at the feed's end: a new subscriber hears of changes from now on.
    sequence_pending(session)
    head = session.exec(select(func.max(col(ChangeEvent.seq)))).one()  # unsequenced rows are NULL
    subscription = WebhookSubscription(
        url=data.url,
        description=data.description,
        event_types=event_types,
        region_code=region,
        secret_cipher=codec.encrypt(secret, context=SECRET_CONTEXT),
        cursor=head or 0,
        created_by_id=actor.id,
    )
    session.add(subscription)
    audit.record(
        session, actor_id=actor.id, action="webhook.subscribe", subject_type="webhook",
        subject_id=subscription.id, detail={"url": data.url},
    )  # fmt: skip
    session.flush()
    return subscription, secret


def get_subscription(session: Session, subscription_id: uuid.UUID) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFound("未找到该订阅 / no such webhook subscription", code="webhook_not_found")
    return subscription


def rotate_secret(
    *,
    session: Session,
    settings: Settings,
    codec: SensitiveCodec,
    actor: Principal,
    subscription: WebhookSubscription,
) -> str:
    """A new secret; the old one keeps signing alongside it for the grace period."""
    secret = signing.new_secret()
    subscription.previous_secret_cipher = subscription.secret_cipher
    subscription.previous_secret_until = utcnow() + timedelta(
        hours=settings.webhook_secret_grace_hours
    )
    subscription.secret_cipher = codec.encrypt(secret, context=SECRET_CONTEXT)
    subscription.updated_at = utcnow()
    audit.record(
        session, actor_id=actor.id, action="webhook.rotate_secret", subject_type="webhook",
        subject_id=subscription.id,
    )  # fmt: skip
    session.flush()
    return secret


def enable(*, session: Session, actor: Principal, subscription: WebhookSubscription) -> None:
    if subscription.status == SubscriptionStatus.ACTIVE.value:
        raise Conflict("订阅已启用 / already active", code="already_active", current_state="active")
    if lapsed_owners(session, [subscription.created_by_id], now=utcnow()):
        raise Conflict(
            "订阅所属的密钥已吊销或过期 / the subscription's API key is revoked or expired",
            code="api_key_lapsed",
            current_state=subscription.status,
        )
    subscription.status = SubscriptionStatus.ACTIVE.value
    subscription.disabled_reason = None
    subscription.failing_since = None
    subscription.updated_at = utcnow()
    audit.record(
        session, actor_id=actor.id, action="webhook.enable", subject_type="webhook",
        subject_id=subscription.id,
    )  # fmt: skip
    session.flush()


def remove(*, session: Session, actor: Principal, subscription: WebhookSubscription) -> None:
    session.execute(
        delete(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == subscription.id)
    )
    audit.record(
        session, actor_id=actor.id, action="webhook.delete", subject_type="webhook",
        subject_id=subscription.id, detail={"url": subscription.url},
    )  # fmt: skip
    session.delete(subscription)
    session.flush()


def replay(*, session: Session, delivery: WebhookDelivery) -> None:
    """Send a failed or cancelled delivery again, with a fresh schedule."""
    if delivery.status in (DeliveryStatus.PENDING.value, DeliveryStatus.DELIVERED.value):
        raise Conflict(
            "该投递无需重放 / only failed or cancelled deliveries can be replayed",
            code="not_replayable",
            current_state=delivery.status,
        )
    delivery.status = DeliveryStatus.PENDING.value
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.locked_by = delivery.locked_until = None
    session.flush()


def lapsed_owners(session: Session, owner_ids: list[uuid.UUID], *, now: datetime) -> set[uuid.UUID]:
    """The accounts among `owner_ids` that belong to a revoked or expired API key."""
    if not owner_ids:
        return set()
    return set(
        session.exec(
            select(ApiKey.user_id).where(
                col(ApiKey.user_id).in_(set(owner_ids)),
                or_(col(ApiKey.revoked_at).is_not(None), col(ApiKey.expires_at) <= now),
            )
        ).all()
    )


KEY_LAPSED = "所属的 API 密钥已过期或吊销 / its API key has expired or was revoked"
KEY_REVOKED = "所属的 API 密钥已吊销 / its API key was revoked"


def disable_for_owner(session: Session, owner_id: uuid.UUID) -> int:
    """Disable the active subscriptions of an account (an API key's, when it is revoked)."""
    active = session.exec(
        select(WebhookSubscription)
        .where(
            WebhookSubscription.created_by_id == owner_id,
            WebhookSubscription.status == SubscriptionStatus.ACTIVE.value,
        )
        .with_for_update()
    ).all()
    for subscription in active:
        _disable(session, subscription, KEY_REVOKED)
    session.flush()
    return len(active)


def fan_out(session: Session, *, now: datetime, limit: int = FAN_OUT_BATCH) -> int:
    """Turn new feed changes into deliveries for each active subscription that wants them.
    Subscriptions are claimed with SKIP LOCKED: several workers share the work, none repeats it.
    A subscription whose API key is revoked or expired hears nothing more: it is disabled."""
    created = 0
    subscriptions = session.exec(
        select(WebhookSubscription)
        .where(WebhookSubscription.status == SubscriptionStatus.ACTIVE.value)
        .with_for_update(skip_locked=True)
    ).all()
    lapsed = lapsed_owners(session, [s.created_by_id for s in subscriptions], now=now)
    for subscription in subscriptions:
        if subscription.created_by_id in lapsed:
            _disable(session, subscription, KEY_LAPSED)
            continue
        scope = (
            RegionScope.of([subscription.region_code])
            if subscription.region_code
            else RegionScope(everything=True)
        )
        changes = read_changes(session, after=subscription.cursor, limit=limit, scope=scope)
        if not changes:
            continue
        for change in changes:
            event_type = f"{change.entity}.{change.op}"
            if not matches(subscription.event_types, event_type):
                continue
            assert change.seq is not None
            session.add(
                WebhookDelivery(
                    subscription_id=subscription.id,
                    change_seq=change.seq,
                    event_type=event_type,
                    next_attempt_at=now,
                    payload={
                        "type": event_type,
                        "timestamp": change.changed_at.isoformat(),
                        "data": {
                            "seq": change.seq,
                            "entity": change.entity,
                            "id": change.entity_id,
                            "op": change.op,
                            "region_code": change.region_code,
                            "fields": change.fields,
                        },
                    },
                )
            )
            created += 1
        last = changes[-1].seq
        assert last is not None
        subscription.cursor = last
    session.flush()
    return created


def claim_deliveries(
    session: Session, *, worker_id: str, now: datetime, limit: int
) -> list[uuid.UUID]:
    due = session.exec(
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            col(WebhookDelivery.next_attempt_at) <= now,
            or_(
                col(WebhookDelivery.locked_until).is_(None),
                col(WebhookDelivery.locked_until) < now,
            ),
        )
        .order_by(col(WebhookDelivery.next_attempt_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if due:
        session.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id).in_(due))
            .values(locked_by=worker_id, locked_until=now + LEASE)
        )
    return list(due)


def _signing_keys(
    codec: SensitiveCodec, subscription: WebhookSubscription, now: datetime
) -> list[str]:
    keys = [codec.decrypt(subscription.secret_cipher, context=SECRET_CONTEXT)]
    if (
        subscription.previous_secret_cipher is not None
        and subscription.previous_secret_until is not None
        and subscription.previous_secret_until > now
    ):
        keys.append(codec.decrypt(subscription.previous_secret_cipher, context=SECRET_CONTEXT))
    return keys


def _platform_admin_ids(session: Session) -> list[uuid.UUID]:
    return list(
        session.exec(
            select(RoleGrant.user_id)
            .join(User, col(User.id) == col(RoleGrant.user_id))
            .where(RoleGrant.role == GrantedRole.PLATFORM_ADMIN.value, col(User.is_active))
        ).all()
    )


def _disable(session: Session, subscription: WebhookSubscription, reason: str) -> None:
    subscription.status = SubscriptionStatus.DISABLED.value
    subscription.disabled_reason = reason[:300]
    subscription.updated_at = utcnow()
    session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.subscription_id) == subscription.id,
            col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
        )
        .values(status=DeliveryStatus.CANCELLED.value, locked_by=None, locked_until=None)
    )
    audit.record(
        session, actor_id=None, action="webhook.disabled", subject_type="webhook",
        subject_id=subscription.id, detail={"reason": reason[:300]},
    )  # fmt: skip
    # The creator may be an API key's account, which nobody reads: platform admins hear too.
    notify(
        session,
        topic="webhook.disabled",
        recipients=[subscription.created_by_id, *_platform_admin_ids(session)],
        payload={
            "subscription_id": str(subscription.id),
            "url": subscription.url,
            "reason": reason[:300],
        },
    )


def deliver_one(
    factory: sessionmaker[Session],
    sender: WebhookSender,
    settings: Settings,
    codec: SensitiveCodec,
    *,
    delivery_id: uuid.UUID,
    worker_id: str,
    now: datetime,
) -> bool:
    """Send one leased delivery, then record the outcome if the lease is still ours."""
    with open_session(factory, write=False) as read:
        delivery = read.get(WebhookDelivery, delivery_id)
        subscription = read.get(WebhookSubscription, delivery.subscription_id) if delivery else None
        if delivery is None or subscription is None:
            return False
        keys = _signing_keys(codec, subscription, now)
        url, payload = subscription.url, delivery.payload
    outcome = sender.send(
        url, keys=keys, msg_id=str(delivery_id), payload=payload, now=int(now.timestamp())
    )
    with open_session(factory, write=True) as write:
        mine = write.exec(
            select(WebhookDelivery)
            .where(
                and_(
                    col(WebhookDelivery.id) == delivery_id,
                    col(WebhookDelivery.locked_by) == worker_id,
                    col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
                )
            )
            .with_for_update()
        ).first()
        if mine is None:
            return False  # our lease ran out and another worker took it over
        owner = write.get(WebhookSubscription, mine.subscription_id, with_for_update=True)
        assert owner is not None
        mine.attempts += 1
        mine.last_status_code = outcome.status_code
        mine.last_error = outcome.error
        mine.locked_by = mine.locked_until = None
        if outcome.ok:
            mine.status = DeliveryStatus.DELIVERED.value
            mine.delivered_at = now
            owner.failing_since = None
        else:
            owner.failing_since = owner.failing_since or now
            if mine.attempts > len(RETRY_DELAYS):
                mine.status = DeliveryStatus.FAILED.value
            else:
                delay = RETRY_DELAYS[mine.attempts - 1].total_seconds()
                jitter = random.uniform(0.8, 1.2)  # noqa: S311  (spreads retries, not a secret)
                mine.next_attempt_at = now + timedelta(seconds=delay * jitter)
            if outcome.gone:
                _disable(write, owner, "接收方回复 410 Gone / the receiver answered 410 Gone")
            elif now - owner.failing_since >= timedelta(hours=settings.webhook_disable_after_hours):
                _disable(
                    write,
                    owner,
                    f"持续失败超过 {settings.webhook_disable_after_hours:g} 小时 / failing for "
                    f"{settings.webhook_disable_after_hours:g} hours, last: {outcome.error}",
                )
        write.commit()
    return outcome.ok


def deliver_due(
    factory: sessionmaker[Session],
    sender: WebhookSender,
    settings: Settings,
    codec: SensitiveCodec,
    *,
    worker_id: str,
    now: datetime,
    limit: int = 20,
) -> int:
    with open_session(factory, write=True) as session:
        claimed = claim_deliveries(session, worker_id=worker_id, now=now, limit=limit)
        session.commit()
    return sum(
        deliver_one(factory, sender, settings, codec, delivery_id=d, worker_id=worker_id, now=now)
        for d in claimed
    )
