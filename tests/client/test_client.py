"""The generated client against the live app (SQLite and PostgreSQL): typed bodies in, typed
answers out, files as bytes, and every refusal an RFC 9457 `ProblemError`."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from diandan_client import Client, ProblemError
from diandan_client.models import ActivityCreate
from sqlmodel import Session

from app.auth.security import issue_access_token
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from tests.client.conftest import Live
from tests.factories import PASSWORD, Factory, World


def seed(live: Live) -> tuple[World, dict[str, str]]:
    """A world, and a token for each of its people who has no password."""
    with Session(live.engine, expire_on_commit=False) as session:
        make = Factory(session, live.settings, SensitiveCodec(live.settings.data_key_value))
        world = make.world("140802000000")
        outsider = make.volunteer("140802101200")
        session.commit()
    tokens = {
        name: issue_access_token(user_id, live.settings)[0]
        for name, user_id in (("leader", world.leader.id), ("outsider", outsider.user_id))
    }
    return world, tokens


def test_refusals_are_problem_errors(live: Live) -> None:
    world, _ = seed(live)
    with Client(live.base_url) as client:
        with pytest.raises(ProblemError) as refused:
            client.login(str(world.institute_admin.username), "wrong password")
        assert refused.value.status == 401
        assert refused.value.title
        with pytest.raises(ProblemError) as anonymous:
            client.list_volunteers()
        assert anonymous.value.code == "not_authenticated"

        client.login(str(world.institute_admin.username), PASSWORD)
        with pytest.raises(ProblemError) as invalid:
            client.list_volunteers(limit=0)
        assert invalid.value.status == 422
        assert invalid.value.errors
        assert invalid.value.errors[0]["loc"][-1] == "limit"
        missing = uuid.uuid4()
        with pytest.raises(ProblemError) as not_found:
            client.read_volunteer(missing)
        assert (not_found.value.status, not_found.value.code) == (404, "volunteer_not_found")
        assert not_found.value.instance == f"/api/v1/volunteers/{missing}"
        assert not_found.value.detail
        assert "no such volunteer" in not_found.value.detail


def test_typed_bodies_and_answers_json_or_file(live: Live) -> None:
    world, tokens = seed(live)
    now = utcnow()
    body: ActivityCreate = {
        "title": "义诊",
        "category_code": "care",
        "place": "曲村文化广场",
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=3)).isoformat(),
        "capacity": 2,
    }
    with Client(live.base_url, token=tokens["leader"]) as leader:
        published = leader.publish_activity(world.team.id, body=body)
        assert published["title"] == "义诊"
        assert leader.read_activity(uuid.UUID(published["id"]))["capacity"] == 2
        report = leader.export_report(published["id"])  # JSON: parsed
        assert isinstance(report, dict)
        assert report["record"]["title"] == "义诊"
        csv_report = leader.export_report(published["id"], format="csv")  # CSV: the bytes
        assert isinstance(csv_report, bytes)
        assert csv_report.decode("utf-8-sig").splitlines()[1].count("义诊") == 1
    with Client(live.base_url, token=tokens["outsider"]) as outsider:
        with pytest.raises(ProblemError) as forbidden:
            outsider.export_report(published["id"])
        assert forbidden.value.status == 403
        with pytest.raises(ProblemError) as not_theirs:
            outsider.publish_activity(world.team.id, body=body)
        assert not_theirs.value.status == 403
