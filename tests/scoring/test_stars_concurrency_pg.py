"""Two admins deciding one star application at once on PostgreSQL: one decision wins."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from app.common.crypto import SensitiveCodec
from app.records.ledger import RecordDraft, china_today, land_records
from app.records.models import RecordSource
from app.scoring.models import StarGrant
from app.scoring.star_models import StarApplication, StarThresholds
from tests.conftest import Backend
from tests.factories import Factory
from tests.rendezvous import Rendezvous, request_as, statuses, together

pytestmark = pytest.mark.postgres

AT_THE_APPLICATION = "FROM star_application WHERE star_application.id ="


def test_concurrent_decisions_on_one_application(
    live_app: FastAPI, fresh_postgres: Backend
) -> None:
    live = live_app
    settings = live.state.settings
    with Session(fresh_postgres.engine, expire_on_commit=False) as session:
        make = Factory(session, settings, SensitiveCodec(settings.data_key_value))
        w = make.world("140802000000")
        volunteer = w.member_volunteer
        session.add(StarThresholds(region_code=w.county, hours=[1, 3], updated_by_id=w.leader.id))
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
        application = StarApplication(volunteer_id=volunteer.id, level=1, eligible_level=1)
        session.add(application)
        session.commit()
    base = f"/api/v1/volunteers/{volunteer.id}/star-applications/{application.id}"
    body = {"reason": "同时审核"}
    calls = [
        request_as(live, w.station_admin.id, "POST", f"{base}/approve", body),
        request_as(live, w.center_admin.id, "POST", f"{base}/reject", body),
    ]
    with Rendezvous(live.state.engine, 2, AT_THE_APPLICATION):
        answers = together(calls)
    assert statuses(answers) == {200: 1, 409: 1}, [r.text for r in answers]
    loser = next(r for r in answers if r.status_code == 409)
    assert loser.json()["code"] == "invalid_state"
    winner = next(r for r in answers if r.status_code == 200).json()["status"]
    with Session(fresh_postgres.engine) as session:
        grants = session.exec(select(StarGrant).where(StarGrant.volunteer_id == volunteer.id))
        assert len(grants.all()) == (1 if winner == "approved" else 0)
        stored = session.get(StarApplication, application.id)
        assert stored is not None
        assert stored.status == winner
