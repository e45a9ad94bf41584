"""The push connector: new and changed volunteers, teams, service records and activities go to
the national platform's endpoint in batches, from the change feed.

- A batch is the feed changes after the last acknowledged position (at most
  `DIANDAN_NATIONAL_PUSH_BATCH`), turned into current records in the exchange format.
- Its `Idempotency-Key` is fixed by its feed bounds. Its body is stored before it is first sent
  and kept until it is acknowledged or parked: a batch retried after a timeout, a crash or in a
  later run is byte for byte the same batch with the same key, however the rows changed since.
- Transient failures (network errors, dropped connections, timeouts, 408, 425, 429, 5xx) are
  retried with exponential backoff and full jitter, then left for the next run; after
  `DIANDAN_NATIONAL_PUSH_MAX_RUNS` such runs the batch is parked, so one batch the receiver
  keeps failing on does not block the connector for ever.
- A batch the receiver refuses as invalid (other 4xx) is parked as a dead letter at once.
- An admin can replay a dead letter: it is rebuilt from the current rows and sent as a new batch
  with a key of its own (`…-replay-<n>`), never under the original key with a different body.
- One pusher at a time holds the connector's lease (replays too); a dead pusher's lease runs out.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from app.accounts.service import PHONE_CONTEXT
from app.activities.models import Activity
from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.db import open_session
from app.integrations.national.exchange import (
    activity_record,
    service_record,
    team_record,
    volunteer_record,
)
from app.integrations.national.models import DeadLetterStatus, PushDeadLetter, PushState
from app.records.models import ServiceRecord
from app.regions.scope import RegionScope
from app.sync.feed import read_changes, sequence_pending
from app.teams.models import Team, TeamSpecialty
from app.volunteers.models import Volunteer
from app.volunteers.service import ID_CONTEXT

CONNECTOR = "national"
PUSHED = ("volunteer", "team", "service_record", "activity")
LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Sent:
    status_code: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def transient(self) -> bool:
        code = self.status_code
        return code is None or code in (408, 425, 429) or code >= 500


class PushClient:
    """POSTs one batch as JSON over httpx; never follows redirects."""

    def __init__(
        self, client: httpx.Client, *, url: str, token: str | None, timeout: float
    ) -> None:
        self._client = client
        self._url = url
        self._token = token
        self._timeout = timeout

    def send(self, body: bytes, *, key: str) -> Sent:
        headers = {"content-type": "application/json", "idempotency-key": key}
        if self._token:
            headers["authorization"] = f"Bearer {self._token}"
        try:
            response = self._client.post(
                self._url, content=body, headers=headers, timeout=self._timeout,
                follow_redirects=False,
            )  # fmt: skip
        except httpx.HTTPError as exc:
            return Sent(None, f"{type(exc).__name__}: {exc}"[:300])
        if response.is_success:
            return Sent(response.status_code)
        return Sent(response.status_code, f"HTTP {response.status_code}: {response.text}"[:300])


def build_records(
    session: Session, subjects: list[dict[str, Any]], settings: Settings, codec: SensitiveCodec
) -> list[dict[str, Any]]:
    """The current state of each subject, in the exchange format; a deleted one as a tombstone."""
    ids: dict[str, list[uuid.UUID]] = {entity: [] for entity in PUSHED}
    for subject in subjects:
        ids[subject["entity"]].append(uuid.UUID(subject["id"]))
    found: dict[tuple[str, str], dict[str, Any]] = {}
    personal = settings.export_personal_data
    for v in session.exec(select(Volunteer).where(col(Volunteer.id).in_(ids["volunteer"]))):
        found["volunteer", str(v.id)] = volunteer_record(
            v,
            personal=personal,
            decrypt_phone=lambda blob: codec.decrypt(blob, context=PHONE_CONTEXT),
            decrypt_id=lambda blob: codec.decrypt(blob, context=ID_CONTEXT),
        )
    teams = session.exec(select(Team).where(col(Team.id).in_(ids["team"]))).all()
    specialties: dict[Any, list[str]] = {}
    for team_id, code in session.exec(
        select(TeamSpecialty.team_id, TeamSpecialty.category_code)
        .where(col(TeamSpecialty.team_id).in_([t.id for t in teams]))
        .order_by(col(TeamSpecialty.category_code))
    ):
        specialties.setdefault(team_id, []).append(code)
    for t in teams:
        found["team", str(t.id)] = team_record(t, specialties.get(t.id, []))
    for r, national_code in session.exec(
        select(ServiceRecord, Volunteer.national_code)
        .join(Volunteer, col(Volunteer.id) == col(ServiceRecord.volunteer_id))
        .where(col(ServiceRecord.id).in_(ids["service_record"]))
    ):
        found["service_record", str(r.id)] = service_record(r, national_code)
    for a in session.exec(select(Activity).where(col(Activity.id).in_(ids["activity"]))):
        found["activity", str(a.id)] = activity_record(a)
    out = []
    for subject in subjects:
        key = (subject["entity"], subject["id"])
        data = found.get(key)
        out.append({"entity": key[0], "id": key[1], "deleted": data is None, "data": data})
    return out


def _subjects(
    session: Session, after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None, int | None]:
    changes = read_changes(
        session, after=after, limit=limit, scope=RegionScope(everything=True), entities=list(PUSHED)
    )
    if not changes:
        return [], None, None
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for change in changes:  # the last change of a subject wins; its record is read fresh anyway
        latest[change.entity, change.entity_id] = {"entity": change.entity, "id": change.entity_id}
    return list(latest.values()), changes[0].seq, changes[-1].seq


def batch_key(first: int, last: int, replay: int = 0) -> str:
    key = f"diandan-{CONNECTOR}-{first}-{last}"
    return key if replay == 0 else f"{key}-replay-{replay}"


def subjects_of(body: bytes) -> list[dict[str, Any]]:
    return [{"entity": r["entity"], "id": r["id"]} for r in json.loads(body)["records"]]


class Pusher:
    def __init__(
        self,
        client: PushClient,
        settings: Settings,
        codec: SensitiveCodec,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.codec = codec
        self.sleep = sleep
        self.rng = rng or random.Random()  # noqa: S311  (jitter, not a secret)

    def send_with_retries(self, body: bytes, key: str) -> Sent:
        attempts = self.settings.national_push_max_attempts
        sent = Sent(None, "not sent")
        for attempt in range(attempts):
            sent = self.client.send(body, key=key)
            if sent.ok or not sent.transient:
                return sent
            if attempt + 1 < attempts:
                ceiling = self.settings.national_push_base_delay_seconds * 2**attempt
                self.sleep(self.rng.uniform(0, ceiling))  # full jitter
        return sent

    def body(self, key: str, first: int, last: int, records: list[dict[str, Any]]) -> bytes:
        payload = {"batch_id": key, "first_seq": first, "last_seq": last, "records": records}
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Batch:
    first: int
    last: int
    key: str
    body: bytes


def _lease(factory: sessionmaker[Session], worker_id: str, now: datetime) -> PushState | None:
    with open_session(factory, write=True) as session:
        if session.get(PushState, CONNECTOR) is None:
            session.add(PushState(connector=CONNECTOR))
            session.flush()
        taken = session.execute(
            update(PushState)
            .where(
                col(PushState.connector) == CONNECTOR,
                or_(col(PushState.leased_until).is_(None), col(PushState.leased_until) < now),
            )
            .values(leased_by=worker_id, leased_until=now + LEASE)
        ).rowcount  # type: ignore[attr-defined]
        sequence_pending(session)
        session.commit()
        return session.get(PushState, CONNECTOR) if taken else None


def _held(worker_id: str) -> Any:
    return (col(PushState.connector) == CONNECTOR) & (col(PushState.leased_by) == worker_id)


def _next_batch(
    factory: sessionmaker[Session], pusher: Pusher, state: PushState, worker_id: str
) -> Batch | None:
    """The batch in flight, as it was stored; or the next one, cut from the feed and stored
    before it is sent."""
    if state.inflight_body is not None:
        assert state.inflight_first_seq is not None
        assert state.inflight_last_seq is not None
        bounds = state.inflight_first_seq, state.inflight_last_seq
        return Batch(*bounds, batch_key(*bounds), state.inflight_body)
    with open_session(factory, write=True) as session:
        subjects, first, last = _subjects(
            session, state.acknowledged_seq, pusher.settings.national_push_batch
        )
        if first is None or last is None:
            return None
        records = build_records(session, subjects, pusher.settings, pusher.codec)
        key = batch_key(first, last)
        body = pusher.body(key, first, last, records)
        stored = session.execute(
            update(PushState)
            .where(_held(worker_id))
            .values(
                inflight_first_seq=first, inflight_last_seq=last, inflight_body=body,
                inflight_runs=0,
            )
        ).rowcount  # type: ignore[attr-defined]  # fmt: skip
        session.commit()
    return Batch(first, last, key, body) if stored else None


def _park(session: Session, batch: Batch, sent: Sent, *, reason: str | None = None) -> None:
    error = f"{reason}: {sent.error}" if reason else sent.error
    session.add(
        PushDeadLetter(
            connector=CONNECTOR, first_seq=batch.first, last_seq=batch.last,
            subjects=subjects_of(batch.body), last_status_code=sent.status_code,
            last_error=(error or "")[:300] or None,
        )
    )  # fmt: skip


def _settle(
    factory: sessionmaker[Session],
    pusher: Pusher,
    worker_id: str,
    batch: Batch | None,
    sent: Sent | None,
    *,
    runs: int,
    now: datetime,
) -> None:
    """Record the outcome and give the lease back."""
    values: dict[str, Any] = {"leased_by": None, "leased_until": None, "updated_at": now}
    done = {
        "acknowledged_seq": batch.last if batch else None,
        "inflight_first_seq": None, "inflight_last_seq": None, "inflight_body": None,
        "inflight_runs": 0,
    }  # fmt: skip
    with open_session(factory, write=True) as session:
        if batch is not None and sent is not None:
            if sent.ok:
                values |= done | {"last_error": None}
            elif not sent.transient:
                _park(session, batch, sent)
                values |= done | {"last_error": sent.error}
            elif runs + 1 >= pusher.settings.national_push_max_runs:
                _park(session, batch, sent, reason=f"gave up after {runs + 1} runs")
                values |= done | {"last_error": sent.error}
            else:
                values |= {"inflight_runs": runs + 1, "last_error": sent.error}
        session.execute(update(PushState).where(_held(worker_id)).values(**values))
        session.commit()


def _replay_batches(
    factory: sessionmaker[Session], pusher: Pusher, limit: int
) -> list[tuple[uuid.UUID, int, str, bytes]]:
    """The dead letters to replay, each as a batch of its own: rebuilt from the current rows
    with a new key on its first try, then kept until it is delivered or parked again."""
    out: list[tuple[uuid.UUID, int, str, bytes]] = []
    with open_session(factory, write=True) as session:
        waiting = session.exec(
            select(PushDeadLetter)
            .where(PushDeadLetter.status == DeadLetterStatus.REPLAY.value)
            .order_by(col(PushDeadLetter.created_at))
            .limit(limit)
        ).all()
        for letter in waiting:
            if letter.inflight_body is None or letter.inflight_key is None:
                records = build_records(session, letter.subjects, pusher.settings, pusher.codec)
                letter.replays += 1
                letter.inflight_runs = 0
                letter.inflight_key = batch_key(letter.first_seq, letter.last_seq, letter.replays)
                letter.inflight_body = pusher.body(
                    letter.inflight_key, letter.first_seq, letter.last_seq, records
                )
                session.add(letter)
            key, body = letter.inflight_key, letter.inflight_body
            assert key is not None
            assert body is not None
            out.append((letter.id, letter.inflight_runs, key, body))
        session.commit()
    return out


def replay_dead_letters(
    factory: sessionmaker[Session], pusher: Pusher, *, now: datetime, limit: int = 5
) -> int:
    """Send the dead letters an admin asked to replay; the caller holds the lease."""
    delivered = 0
    for letter_id, runs, key, body in _replay_batches(factory, pusher, limit):
        sent = pusher.send_with_retries(body, key)
        with open_session(factory, write=True) as session:
            letter = session.get(PushDeadLetter, letter_id)
            assert letter is not None
            if sent.ok:
                letter.status = DeadLetterStatus.DELIVERED.value
            elif sent.transient and runs + 1 < pusher.settings.national_push_max_runs:
                letter.inflight_runs = runs + 1  # the same replay again on the next run
            else:
                letter.status = DeadLetterStatus.PARKED.value
            if letter.status != DeadLetterStatus.REPLAY.value:
                letter.inflight_key, letter.inflight_body, letter.inflight_runs = None, None, 0
            letter.last_status_code, letter.last_error = sent.status_code, sent.error
            letter.updated_at = now
            session.add(letter)
            session.commit()
        delivered += int(sent.ok)
    return delivered


def push_once(
    factory: sessionmaker[Session], pusher: Pusher, *, worker_id: str, now: datetime
) -> int:
    """Replay what an admin asked for, then send the next batch; returns how many records of
    that batch the receiver acknowledged (0: nothing to send, another pusher holds the lease,
    or the batch is to be retried later or was parked)."""
    state = _lease(factory, worker_id, now)
    if state is None:
        return 0
    batch: Batch | None = None
    sent: Sent | None = None
    try:
        replay_dead_letters(factory, pusher, now=now)
        batch = _next_batch(factory, pusher, state, worker_id)
        if batch is not None:
            sent = pusher.send_with_retries(batch.body, batch.key)
    finally:
        runs = state.inflight_runs if state.inflight_body is not None else 0
        _settle(factory, pusher, worker_id, batch, sent, runs=runs, now=now)
    return len(subjects_of(batch.body)) if batch is not None and sent is not None and sent.ok else 0
