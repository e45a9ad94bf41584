from __future__ import annotations

import logging
import random
import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.db import open_session
from app.dispatch.service import expire_offers
from app.idempotency.service import purge_expired
from app.integrations.national.push import Pusher, push_once
from app.integrations.webhooks import WebhookSender
from app.notifications.channels import Notifier
from app.notifications.models import OutboxMessage, OutboxStatus
from app.notifications.outbox import notify, site_admin_user_ids
from app.orders.models import Order
from app.orders.queries import overdue_filter
from app.orders.service import auto_close
from app.sync.feed import sequence_pending
from app.webhooks.service import deliver_due, fan_out

log = logging.getLogger(__name__)

# A batch (at most DELIVERY_BATCH sends of at most 5 s each) must finish well inside its lease.
LEASE = timedelta(minutes=5)
DELIVERY_BATCH = 20
MAX_ATTEMPTS = 8


def flag_overdue(session: Session, *, now: datetime, limit: int = 100) -> int:
    """Tell the reviewing site's admins, once per order, that a deadline has passed."""
    due = session.exec(
        select(Order)
        .where(overdue_filter(now), col(Order.overdue_notified_at).is_(None))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for order in due:
        order.overdue_notified_at = now
        notify(
            session,
            topic="order.overdue",
            recipients=site_admin_user_ids(session, order.review_site_id),
            payload={"order_id": str(order.id), "title": order.title, "status": order.status},
        )
    session.flush()
    return len(due)


def claim_messages(
    session: Session, *, worker_id: str, now: datetime, limit: int
) -> list[uuid.UUID]:
    """Lease due messages to this worker. An expired lease (a dead worker's) is fair game."""
    due = session.exec(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING.value,
            col(OutboxMessage.available_at) <= now,
            or_(col(OutboxMessage.locked_until).is_(None), col(OutboxMessage.locked_until) < now),
        )
        .order_by(col(OutboxMessage.available_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if due:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(due))
            .values(locked_until=now + LEASE, locked_by=worker_id)
        )
    return list(due)


def _backoff(attempts: int) -> timedelta:
    base = min(3600.0, 10.0 * 2 ** (attempts - 1))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311  (jitter, not security)


def deliver_one(
    factory: sessionmaker[Session],
    notifier: Notifier,
    *,
    message_id: uuid.UUID,
    worker_id: str,
    now: datetime,
) -> bool:
    with open_session(factory, write=False) as read:
        message = read.get(OutboxMessage, message_id)
        if message is None or message.locked_by != worker_id:
            return False
        recipient = read.get(User, message.recipient_user_id) if message.recipient_user_id else None
    try:
        notifier.deliver(message, recipient)
        values: dict[str, object] = {
            "status": OutboxStatus.SENT.value,
            "sent_at": now,
            "locked_until": None,
            "attempts": message.attempts + 1,
        }
        ok = True
    except Exception as exc:
        attempts = message.attempts + 1
        log.warning("delivery of %s failed (attempt %s): %s", message.id, attempts, exc)
        values = {
            "attempts": attempts,
            "last_error": str(exc)[:500],
            "locked_until": None,
            "available_at": now + _backoff(attempts),
        }
        if attempts >= MAX_ATTEMPTS:
            values["status"] = OutboxStatus.FAILED.value
        ok = False
    with open_session(factory, write=True) as write:
        # Only the lease holder may settle the message.
        write.execute(
            update(OutboxMessage)
            .where(
                and_(
                    col(OutboxMessage.id) == message_id,
                    col(OutboxMessage.locked_by) == worker_id,
                    col(OutboxMessage.status) == OutboxStatus.PENDING.value,
                )
            )
            .values(**values)
        )
        write.commit()
    return ok


def deliver_outbox(
    factory: sessionmaker[Session],
    notifier: Notifier,
    *,
    worker_id: str,
    now: datetime,
    limit: int = DELIVERY_BATCH,
) -> int:
    with open_session(factory, write=True) as session:
        claimed = claim_messages(session, worker_id=worker_id, now=now, limit=limit)
        session.commit()
    return sum(
        deliver_one(factory, notifier, message_id=m, worker_id=worker_id, now=now) for m in claimed
    )


def run_once(
    factory: sessionmaker[Session],
    settings: Settings,
    notifier: Notifier,
    *,
    worker_id: str,
    now: datetime,
    webhooks: WebhookSender | None = None,
    pusher: Pusher | None = None,
) -> dict[str, int]:
    """One pass of every task; each in its own transaction, so that one failing spares the rest."""
    counts: dict[str, int] = {}
    for name, task in (
        ("expired_offers", lambda s: expire_offers(session=s, settings=settings, now=now)),
        ("auto_closed", lambda s: auto_close(session=s, settings=settings, now=now)),
        ("overdue_flagged", lambda s: flag_overdue(s, now=now)),
        ("idempotency_purged", purge_expired),
        ("changes_sequenced", sequence_pending),
        ("webhooks_queued", lambda s: fan_out(s, now=now)),
    ):
        with open_session(factory, write=True) as session:
            try:
                counts[name] = task(session)
                session.commit()
            except Exception:
                log.exception("worker task %s failed", name)
                session.rollback()
                counts[name] = -1
    counts["delivered"] = deliver_outbox(factory, notifier, worker_id=worker_id, now=now)
    if webhooks is not None:
        codec = SensitiveCodec(settings.data_key_value)
        counts["webhooks_sent"] = deliver_due(
            factory, webhooks, settings, codec, worker_id=worker_id, now=now
        )
    if pusher is not None:
        try:
            counts["pushed"] = push_once(factory, pusher, worker_id=worker_id, now=now)
        except Exception:
            log.exception("national push failed")
            counts["pushed"] = -1
    return counts
