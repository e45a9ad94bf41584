"""Feed positions and reads.

A change gets its feed position (`seq`) only once it is visible, that is committed: the sequencer
takes the head row's lock, numbers every visible unnumbered change in insert order, and moves the
head. Sequencers are serialised by that lock, and each numbers only what has committed before it
ran, so positions only grow and a reader that resumes after position N misses nothing and sees
nothing twice. Changes of one entity keep their order: the second writer of a row waits for the
first one's commit before it writes (and reports) its own change.
"""

from __future__ import annotations

from sqlalchemy import text, update
from sqlmodel import Session, col, select

from app.regions.scope import RegionScope
from app.sync.models import ChangeEvent, ChangeFeedHead

SEQUENCE_BATCH = 5000


def sequence_pending(session: Session, *, limit: int = SEQUENCE_BATCH) -> int:
    """Number the committed changes that have no position yet. Flushes; the caller commits."""
    head = session.execute(
        update(ChangeFeedHead)
        .where(col(ChangeFeedHead.id) == 1)
        .values(last_seq=col(ChangeFeedHead.last_seq))  # takes the row lock
        .returning(col(ChangeFeedHead.last_seq))
    ).scalar_one()
    numbered = session.execute(
        text(
            "UPDATE change_event SET seq = :head + pending.position "
            "FROM (SELECT id, row_number() OVER (ORDER BY id) AS position FROM change_event "
            "      WHERE seq IS NULL ORDER BY id LIMIT :limit) AS pending "
            "WHERE change_event.id = pending.id"
        ),
        {"head": head, "limit": limit},
    ).rowcount  # type: ignore[attr-defined]
    if numbered:
        session.execute(
            update(ChangeFeedHead)
            .where(col(ChangeFeedHead.id) == 1)
            .values(last_seq=head + numbered)
        )
    return int(numbered)


def read_changes(
    session: Session,
    *,
    after: int,
    limit: int,
    scope: RegionScope,
    entities: list[str] | None = None,
) -> list[ChangeEvent]:
    stmt = select(ChangeEvent).where(col(ChangeEvent.seq) > after)
    if not scope.everything:
        stmt = stmt.where(scope.filter(col(ChangeEvent.region_code)))
    if entities:
        stmt = stmt.where(col(ChangeEvent.entity).in_(entities))
    return list(session.exec(stmt.order_by(col(ChangeEvent.seq)).limit(limit)).all())
