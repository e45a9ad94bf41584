"""The generated client and the two admin scripts, against the real app served by uvicorn on
127.0.0.1 over a migrated database of its own."""

from __future__ import annotations

import csv
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import uvicorn
from diandan_client import Client, ProblemError
from sqlmodel import Session, select

from app.accounts.models import GrantedRole
from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.records.ledger import RecordDraft, land_records
from app.records.models import RecordSource
from app.volunteers.models import Volunteer, VolunteerStatus
from scripts import approve_pending, export_month
from tests.conftest import migrate, offline_http_client, settings_for
from tests.factories import PASSWORD, Factory, World
from tools import gen_client

TOWNSHIP = "140802100000"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    settings = settings_for(f"sqlite:///{tmp_path / 'live.db'}")
    engine = make_engine(settings)
    migrate(engine)
    engine.dispose()
    app = create_app(settings, http_client=offline_http_client())
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    try:
        yield base, settings
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()


def seed(settings: Settings) -> tuple[World, list[Volunteer]]:
    engine = make_engine(settings)
    with Session(engine, expire_on_commit=False) as session:
        make = Factory(session, settings, SensitiveCodec(settings.data_key_value))
        world = make.world("140802000000")
        admin = make.user("institute_admin", display_name="所管理员")
        site = make.site(world.township)
        make.grant(admin, GrantedRole.SITE_ADMIN, site)
        pending = [make.volunteer(world.village, status=VolunteerStatus.PENDING) for _ in range(3)]
        elsewhere = make.volunteer("140802101200", status=VolunteerStatus.PENDING)
        land_records(session, settings, [
            RecordDraft(volunteer_id=world.member_volunteer.id, team_id=world.team.id,
                        category_code="care", region_code=world.village, service_date=day,
                        minutes=90, content="探访", recorded_by_id=admin.id,
                        source=RecordSource.MANUAL)
            for day in (date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 31))
        ])  # fmt: skip
        session.commit()
    engine.dispose()
    return world, [*pending, elsewhere]


def test_approve_pending_volunteers_of_a_township(live: tuple[str, Settings]) -> None:
    base, settings = live
    world, people = seed(settings)
    argv = ["--base-url", base, "--username", "institute_admin", "--password", PASSWORD,
            "--region", TOWNSHIP]  # fmt: skip
    assert approve_pending.main([*argv, "--dry-run"]) == 0
    engine = make_engine(settings)
    with Session(engine) as session:
        statuses = {v.id: v.status for v in session.exec(select(Volunteer))}
    assert [statuses[p.id] for p in people] == ["pending"] * 4
    assert approve_pending.main(argv) == 0
    with Session(engine) as session:
        statuses = {v.id: v.status for v in session.exec(select(Volunteer))}
    engine.dispose()
    assert [statuses[p.id] for p in people[:3]] == ["approved"] * 3
    assert statuses[world.pending.id] == "approved"  # the world's own pending volunteer too
    assert statuses[people[3].id] == "pending"  # another township: untouched


def test_export_a_month_of_service_records(live: tuple[str, Settings], tmp_path: Path) -> None:
    base, settings = live
    seed(settings)
    out = tmp_path / "october.csv"
    argv = ["--base-url", base, "--username", "institute_admin", "--password", PASSWORD,
            "--month", "2026-10", "--region", TOWNSHIP, "--out", str(out)]  # fmt: skip
    assert export_month.main(argv) == 0
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["service_date"] for r in rows) == ["2026-10-01", "2026-10-31"]
    assert {r["service_hours"] for r in rows} == {"1.50"}


def test_the_client_reports_problems(live: tuple[str, Settings]) -> None:
    base, _settings = live
    with Client(base) as client:
        with pytest.raises(ProblemError) as refused:
            client.login("nobody", "wrong password")
        assert refused.value.status == 401
        with pytest.raises(ProblemError) as anonymous:
            client.list_volunteers()
        assert anonymous.value.code == "not_authenticated"


def test_the_generator_is_deterministic_and_the_committed_client_is_fresh() -> None:
    assert gen_client.render() == gen_client.render()
    assert gen_client.main(["--check"]) == 0
