"""Two moves of one volunteer at once on PostgreSQL: they queue on the volunteer's row, so the
history is a chain (the second move starts where the first ended) and the totals end up where
the volunteer does."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlmodel import Session, col, select

from app.common.crypto import SensitiveCodec
from app.records.ledger import RecordDraft, china_today, land_records
from app.records.models import RecordSource
from app.scoring.models import VolunteerTotal
from app.volunteers.models import Volunteer, VolunteerTransfer
from tests.conftest import Backend
from tests.factories import Factory
from tests.rendezvous import Rendezvous, request_as, statuses, together

pytestmark = pytest.mark.postgres

# The volunteer's row is read (to check visibility) before it is locked for the move.
AT_THE_VOLUNTEER = "FROM volunteer WHERE volunteer.id ="


def test_concurrent_moves_queue_and_keep_a_chain(
    live_app: FastAPI, fresh_postgres: Backend
) -> None:
    live = live_app
    settings = live.state.settings
    destinations = ["140802101201", "140802102201"]
    with Session(fresh_postgres.engine, expire_on_commit=False) as session:
        make = Factory(session, settings, SensitiveCodec(settings.data_key_value))
        w = make.world("140802000000")
        for code in destinations:
            make.region(code)
        volunteer = w.member_volunteer
        land_records(
            session,
            settings,
            [
                RecordDraft(
                    volunteer_id=volunteer.id,
                    team_id=w.team.id,
                    category_code="care",
                    region_code=w.village,
                    service_date=china_today(),
                    minutes=90,
                    content="入户探访",
                    recorded_by_id=w.leader.id,
                    source=RecordSource.MANUAL,
                )
            ],
        )
        session.commit()
    url = f"/api/v1/volunteers/{volunteer.id}/transfer"
    calls = [
        request_as(live, w.center_admin.id, "POST", url, {"region_code": code, "reason": "搬家"})
        for code in destinations
    ]
    with Rendezvous(live.state.engine, 2, AT_THE_VOLUNTEER):
        answers = together(calls)
    assert statuses(answers) == {201: 2}, [r.text for r in answers]
    with Session(fresh_postgres.engine) as session:
        moves = session.exec(
            select(VolunteerTransfer)
            .where(VolunteerTransfer.volunteer_id == volunteer.id)
            .order_by(col(VolunteerTransfer.created_at), col(VolunteerTransfer.id))
        ).all()
        assert [m.from_region_code for m in moves] == [w.village, moves[0].to_region_code]
        final = session.get(Volunteer, volunteer.id)
        assert final is not None
        assert final.region_code == moves[1].to_region_code
        regions = session.exec(
            select(VolunteerTotal.region_code).where(VolunteerTotal.volunteer_id == volunteer.id)
        ).all()
        assert set(regions) == {final.region_code}
