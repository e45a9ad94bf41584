"""The two admin scripts against the live app (SQLite and PostgreSQL), through the generated
client: what they change, what they write, and who is refused."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from app.common.crypto import SensitiveCodec
from app.records.ledger import RecordDraft, land_records
from app.records.models import RecordSource
from app.volunteers.models import Volunteer, VolunteerStatus
from scripts import approve_pending, export_month
from tests.client.conftest import Live
from tests.factories import PASSWORD, Factory, World

COUNTY = "140802000000"
TOWNSHIP = "140802100000"
OTHER_TOWNSHIP = "140802101000"
OTHER_VILLAGE = "140802101200"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Seeded:
    world: World
    pending: list[uuid.UUID]  # of the township: the world's own and 50 more (two pages)
    elsewhere: uuid.UUID  # pending in another township
    other_admin: str  # the institute admin of the other township
    volunteer_user: str  # a plain volunteer who can sign in

    def admin(self, which: str = "institute") -> str:
        user = self.world.institute_admin if which == "institute" else self.world.center_admin
        assert user.username is not None
        return user.username


def seed(live: Live) -> Seeded:
    with Session(live.engine, expire_on_commit=False) as session:
        make = Factory(session, live.settings, SensitiveCodec(live.settings.data_key_value))
        world = make.world(COUNTY)
        pending = [world.pending.id] + [
            make.volunteer(world.village, status=VolunteerStatus.PENDING, name=f"申请{i}").id
            for i in range(50)
        ]
        elsewhere = make.volunteer(OTHER_VILLAGE, status=VolunteerStatus.PENDING).id
        other_admin = make.site_admin(OTHER_TOWNSHIP)
        plain = make.user("plain_volunteer")
        make.volunteer(world.village, user=plain)
        other_team = make.team(OTHER_VILLAGE)
        other_member = make.volunteer(OTHER_VILLAGE)
        make.member(other_team, other_member)

        def record(day: date, created: datetime, *, other: bool = False) -> None:
            who, team = (
                (other_member, other_team) if other else (world.member_volunteer, world.team)
            )
            [landed] = land_records(session, live.settings, [RecordDraft(
                volunteer_id=who.id, team_id=team.id, category_code="care",
                region_code=OTHER_VILLAGE if other else world.village, service_date=day,
                minutes=90, content="探访", recorded_by_id=world.institute_admin.id,
                source=RecordSource.MANUAL)], now=created)  # fmt: skip
            assert landed.created_at == created

        at = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
        record(date(2026, 9, 30), datetime(2026, 9, 30, 4, 0, tzinfo=UTC))
        # entered at 00:30 on 1 October, China time: still 30 September in UTC
        record(date(2026, 10, 1), datetime(2026, 9, 30, 16, 30, tzinfo=UTC))
        record(date(2026, 10, 31), at)
        record(date(2026, 11, 1), at)
        record(date(2026, 10, 15), at, other=True)  # the other township
        session.commit()
        return Seeded(world, pending, elsewhere, str(other_admin.username), "plain_volunteer")


def statuses(live: Live) -> dict[uuid.UUID, str]:
    with Session(live.engine) as session:
        return {v.id: v.status for v in session.exec(select(Volunteer))}


def approve_argv(live: Live, username: str, township: str = TOWNSHIP) -> list[str]:
    return ["--base-url", live.base_url, "--username", username, "--password", PASSWORD,
            "--township", township]  # fmt: skip


def test_approve_pending_volunteers_of_a_township(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed(live)
    admin = seeded.admin()
    assert approve_pending.main([*approve_argv(live, admin), "--dry-run"]) == 0
    assert capsys.readouterr().out.count("would approve") == 51
    assert {statuses(live)[v] for v in [*seeded.pending, seeded.elsewhere]} == {"pending"}

    assert approve_pending.main(approve_argv(live, admin)) == 0
    assert "pending 51, approved 51, failed 0" in capsys.readouterr().out
    after = statuses(live)
    assert {after[v] for v in seeded.pending} == {"approved"}
    assert after[seeded.elsewhere] == "pending"  # another township: untouched

    assert approve_pending.main(approve_argv(live, admin)) == 0  # nothing left: a no-op
    assert "pending 0, approved 0" in capsys.readouterr().out


def test_approve_pending_changes_nothing_outside_the_callers_region(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed(live)
    # the other township's admin sees none of ours; a plain volunteer sees no pending ones
    for username in (seeded.other_admin, seeded.volunteer_user):
        assert approve_pending.main(approve_argv(live, username)) == 0
        assert "pending 0, approved 0" in capsys.readouterr().out
    assert {statuses(live)[v] for v in seeded.pending} == {"pending"}


@pytest.mark.parametrize(
    ("township", "password", "message"),
    [
        (TOWNSHIP, "wrong password", "refused: 401"),
        ("140802100200", PASSWORD, "is a village, not a township"),
        ("999999999999", PASSWORD, "refused: 404"),
        ("14080", PASSWORD, "refused: 4"),
    ],
)
def test_approve_pending_refuses_bad_input(
    live: Live, capsys: pytest.CaptureFixture[str], township: str, password: str, message: str
) -> None:
    seeded = seed(live)
    admin = seeded.admin()
    argv = approve_argv(live, admin, township)
    argv[argv.index("--password") + 1] = password
    assert approve_pending.main(argv) == 1
    assert message in capsys.readouterr().err
    assert {statuses(live)[v] for v in seeded.pending} == {"pending"}


def export_argv(live: Live, username: str, out: Path, region: str = TOWNSHIP) -> list[str]:
    return ["--base-url", live.base_url, "--username", username, "--password", PASSWORD,
            "--month", "2026-10", "--region", region, "--out", str(out)]  # fmt: skip


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_export_a_month_of_service_records(live: Live, tmp_path: Path) -> None:
    seeded = seed(live)
    out = tmp_path / "october.csv"
    admin = seeded.admin()
    assert export_month.main(export_argv(live, admin, out)) == 0
    rows = read_csv(out)
    assert sorted(r["service_date"] for r in rows) == ["2026-10-01", "2026-10-31"]
    assert {r["service_hours"] for r in rows} == {"1.50"}
    # the county: the other township's October record joins them
    county_admin = seeded.admin("center")
    assert export_month.main(export_argv(live, county_admin, out, COUNTY)) == 0
    assert sorted(r["service_date"] for r in read_csv(out)) == [
        "2026-10-01", "2026-10-15", "2026-10-31"
    ]  # fmt: skip


def test_export_month_gives_others_nothing_of_the_region(live: Live, tmp_path: Path) -> None:
    seeded = seed(live)
    out = tmp_path / "october.csv"
    assert export_month.main(export_argv(live, seeded.other_admin, out)) == 0
    assert read_csv(out) == []  # another township's admin: no rows of ours
    refused = tmp_path / "refused.csv"
    assert export_month.main(export_argv(live, seeded.volunteer_user, refused)) == 1
    assert not refused.exists()  # a volunteer may not export; no file is written


def test_export_month_refuses_a_bad_month(live: Live, tmp_path: Path) -> None:
    argv = export_argv(live, "anyone", tmp_path / "x.csv")
    argv[argv.index("--month") + 1] = "2026-13"
    with pytest.raises(SystemExit) as bad:
        export_month.main(argv)
    assert bad.value.code == 2


def test_month_bounds_across_the_year() -> None:
    assert export_month.month_bounds(date(2026, 12, 1)) == (date(2026, 12, 1), date(2027, 1, 1))
    assert export_month.month_bounds(date(2026, 1, 1)) == (date(2026, 1, 1), date(2026, 2, 1))


def test_the_scripts_run_from_the_command_line(live: Live) -> None:
    """`python -m scripts.…` from the checkout finds the client without PYTHONPATH."""
    seeded = seed(live)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "scripts.approve_pending", *approve_argv(live, seeded.admin()),
         "--dry-run"],
        cwd=ROOT, capture_output=True, text=True, env=env, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("would approve") == 51
