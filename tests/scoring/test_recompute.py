"""`python -m app.scoring.recompute`: incremental and recomputed totals agree, and a total
changed behind the ledgers' back is caught and repaired."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from app.common.crypto import SensitiveCodec
from app.scoring import recompute
from tests.conftest import Backend
from tests.factories import Factory
from tests.orders.conftest import OrderWorld
from tests.scoring.conftest import record, served_and_rated

pytestmark = pytest.mark.postgres

TAMPERINGS = [
    ("volunteer_total", "UPDATE volunteer_total SET minutes = minutes + 1 WHERE period = 0"),
    ("volunteer_total", "UPDATE volunteer_total SET points = points + 1 WHERE period = 2025"),
    ("points_balance", "UPDATE points_balance SET balance = balance + 1"),
    ("team_total", "UPDATE team_total SET rating_count = rating_count + 1 WHERE period > 202500"),
]
TABLES = sorted({table for table, _ in TAMPERINGS})


def _snapshot(engine: Engine) -> dict[str, set[tuple[object, ...]]]:
    with Session(engine) as session:
        return {
            table: set(map(tuple, session.execute(text(f"SELECT * FROM {table}")).all()))  # noqa: S608
            for table in TABLES
        }


def test_the_command_agrees_and_catches_a_tampered_total(
    live_app: FastAPI,
    fresh_postgres: Backend,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = live_app.state.settings
    monkeypatch.setattr(recompute, "get_settings", lambda: settings)
    client = TestClient(live_app)
    with Session(fresh_postgres.engine, expire_on_commit=False) as session:
        make = Factory(session, settings, SensitiveCodec(settings.data_key_value))
        w = make.world("140802000000")
        w.team.wgs_lat, w.team.wgs_lng = 35.05, 110.91
        w.team.lat, w.team.lng, w.team.coord_system = 35.05, 110.91, "wgs84"
        session.add(w.team)
        session.commit()
        ow = OrderWorld(world=w, township_team=w.team, county_team=w.team, make=make,
                        client=client)  # fmt: skip
        record(client, make, w, w.member_volunteer, date(2025, 2, 10), 3)
        record(client, make, w, w.leader_volunteer, date(2025, 8, 1), 2)
        moving = client.post(
            "/api/v1/records",
            json={"volunteer_id": str(w.member_volunteer.id), "team_id": str(w.team.id),
                  "category_code": "care", "service_date": "2024-12-30", "hours": 2,
                  "content": "入户探访独居老人"},
            headers=make.headers(w.leader),
        )  # fmt: skip
        assert moving.status_code == 201, moving.text
        moved = client.post(  # into another month, quarter and year: the record moves too
            f"/api/v1/records/{moving.json()['id']}/amendments",
            json={"reason": "更正日期", "service_date": "2025-03-02", "hours": 1},
            headers=make.headers(w.leader),
        )
        assert moved.status_code == 201, moved.text
        served_and_rated(ow, {w.member_volunteer.id: 1.5, w.leader_volunteer.id: 1}, 5)
        served_and_rated(ow, {w.member_volunteer.id: 1}, 3)
        adjusted = client.post(
            f"/api/v1/volunteers/{w.member_volunteer.id}/points/adjustments",
            json={"points": -4, "reason": "更正积分"},
            headers=make.headers(w.station_admin),
        )
        assert adjusted.status_code == 201, adjusted.text

    incremental = _snapshot(fresh_postgres.engine)
    assert all(incremental.values()), incremental
    assert recompute.main(["--check"]) == 0
    assert "mismatches" in capsys.readouterr().out
    assert recompute.main([]) == 0
    assert _snapshot(fresh_postgres.engine) == incremental  # recomputed = incremental

    for table, tampering in TAMPERINGS:
        with fresh_postgres.engine.begin() as connection:
            assert connection.execute(text(tampering)).rowcount > 0
        capsys.readouterr()
        assert recompute.main(["--check"]) == 1, table
        found = capsys.readouterr().out
        assert f"'{table}': 0" not in found, found
        assert found.count(": 0") == 2, found  # three kinds of totals: only the tampered differs
        assert recompute.main([]) == 0
        assert _snapshot(fresh_postgres.engine) == incremental, table
        assert recompute.main(["--check"]) == 0
