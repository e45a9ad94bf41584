"""Star levels per jurisdiction: region thresholds, the eligibility notice, applications and
their review, and what an amendment that lowers the hours does to a grant."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.config import Settings
from app.notifications.models import OutboxMessage
from tests.factories import Factory, World
from tests.records.test_ledger import entry, post
from tests.scoring.conftest import OrderWorld


def _thresholds(world: World, code: str | None = None) -> str:
    return f"/api/v1/regions/{code or world.village}/star-thresholds"


def _stars(client: TestClient, make: Factory, w: World) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/volunteers/{w.member_volunteer.id}/stars", headers=make.headers(w.member)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _apply(client: TestClient, make: Factory, w: World, user: Any = None, **body: Any) -> Any:
    return client.post(
        f"/api/v1/volunteers/{w.member_volunteer.id}/star-applications",
        json=body,
        headers=make.headers(user or w.member),
    )


def _decide(
    client: TestClient, make: Factory, w: World, application_id: str, verb: str, user: Any
) -> Any:
    return client.post(
        f"/api/v1/volunteers/{w.member_volunteer.id}/star-applications/{application_id}/{verb}",
        json={"reason": "核实服务时长"},
        headers=make.headers(user),
    )


def _told(db: Session, topic: str) -> list[Any]:
    db.expire_all()
    return [
        m.payload["level"]
        for m in db.exec(
            select(OutboxMessage)
            .where(OutboxMessage.topic == topic)
            .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))  # ids are UUIDv7
        ).all()
    ]


def test_the_nearest_region_with_thresholds_decides_eligibility(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Settings
) -> None:
    settings.star_thresholds_hours = [100, 300, 600, 1000, 1500]
    w = ow.world
    post(client, make, w.leader, entry(w, hours=3.5))
    anyone = make.headers(w.member)
    default = client.get(_thresholds(w), headers=anyone).json()
    assert (default["hours"], default["source_region_code"]) == ([100, 300, 600, 1000, 1500], None)
    assert _stars(client, make, w)["eligible_level"] == 0

    county = client.put(
        _thresholds(w, w.county), json={"hours": [1, 2, 3]}, headers=make.headers(w.center_admin)
    )
    assert county.status_code == 200, county.text
    inherited = client.get(_thresholds(w), headers=anyone).json()
    assert (inherited["hours"], inherited["source_region_code"]) == ([1, 2, 3], w.county)
    assert _stars(client, make, w)["eligible_level"] == 3
    summary = client.get(
        f"/api/v1/volunteers/{w.member_volunteer.id}/records/summary", headers=anyone
    ).json()
    assert (summary["thresholds_hours"], summary["star"]["eligible_level"]) == ([1, 2, 3], 3)

    village = client.put(
        _thresholds(w), json={"hours": [2, 4]}, headers=make.headers(make.platform_admin())
    )
    assert village.json()["source_region_code"] == w.village
    assert _stars(client, make, w)["eligible_level"] == 1
    removed = client.delete(_thresholds(w), headers=make.headers(w.center_admin))
    assert removed.status_code == 204
    assert _stars(client, make, w)["eligible_level"] == 3
    again = client.delete(_thresholds(w), headers=make.headers(w.center_admin))
    assert (again.status_code, again.json()["code"]) == (404, "thresholds_not_found")


def test_who_may_set_thresholds(ow: OrderWorld, client: TestClient, make: Factory) -> None:
    w = ow.world
    other = make.world("140803000000")
    body = {"hours": [1, 2, 3]}
    for user, code, status, problem in [
        (w.station_admin, w.village, 403, "county_admin_required"),
        (w.institute_admin, w.village, 403, "county_admin_required"),
        (w.center_admin, other.village, 403, "outside_scope"),
        (other.center_admin, w.county, 403, "outside_scope"),
        (w.leader, w.village, 403, "admin_required"),
        (w.member, w.village, 403, "admin_required"),
    ]:
        response = client.put(_thresholds(w, code), json=body, headers=make.headers(user))
        assert (response.status_code, response.json()["code"]) == (status, problem), user
        gone = client.delete(_thresholds(w, code), headers=make.headers(user))
        assert (gone.status_code, gone.json()["code"]) == (status, problem), user
    for bad in ([3, 1], [0, 2], [1, 1], list(range(1, 12))):
        response = client.put(
            _thresholds(w, w.county), json={"hours": bad}, headers=make.headers(w.center_admin)
        )
        assert response.status_code == 422, bad
    unknown = client.get(_thresholds(w, "140802188888"), headers=make.headers(w.member))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "region_not_found")


def test_reaching_a_level_is_told_once(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Settings, db: Session
) -> None:
    settings.star_thresholds_hours = [1, 3, 6]
    w = ow.world
    first = post(client, make, w.leader, entry(w, hours=1.5)).json()
    post(client, make, w.leader, entry(w, hours=0.5, service_date="2025-06-01"))
    assert _told(db, "star.eligible") == [1]
    post(client, make, w.leader, entry(w, hours=2, service_date="2025-06-02"))
    assert _told(db, "star.eligible") == [1, 2]
    # Down below 3 hours and back: level 2 was told already.
    amended = client.post(
        f"/api/v1/records/{first['id']}/amendments",
        json={"reason": "未实际参加", "hours": 0},
        headers=make.headers(w.leader),
    )
    assert amended.status_code == 201, amended.text
    assert _stars(client, make, w)["eligible_level"] == 1
    post(client, make, w.leader, entry(w, hours=1, service_date="2025-06-03"))
    assert _stars(client, make, w)["eligible_level"] == 2
    assert _told(db, "star.eligible") == [1, 2]


def test_an_application_is_reviewed_and_kept_with_its_decision(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Settings, db: Session
) -> None:
    settings.star_thresholds_hours = [1, 3, 6]
    w = ow.world
    post(client, make, w.leader, entry(w, hours=3.5))
    applied = _apply(client, make, w, note="申请二星")
    assert applied.status_code == 201, applied.text
    first = applied.json()
    assert (first["level"], first["eligible_level"], first["status"]) == (2, 2, "pending")
    twice = _apply(client, make, w)
    assert (twice.status_code, twice.json()["code"]) == (409, "application_pending")
    other = make.world("140803000000")
    for user, status, code in [
        (w.leader, 403, "admin_required"),
        (w.member, 403, "admin_required"),
        (other.center_admin, 404, "volunteer_not_found"),
    ]:
        refused = _decide(client, make, w, first["id"], "approve", user)
        assert (refused.status_code, refused.json()["code"]) == (status, code)
    by_leader = _apply(client, make, w, user=w.leader)
    assert (by_leader.status_code, by_leader.json()["code"]) == (403, "not_applicant")

    rejected = _decide(client, make, w, first["id"], "reject", w.station_admin)
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["decided_by_id"] == str(w.station_admin.id)
    second = _apply(client, make, w).json()
    approved = _decide(client, make, w, second["id"], "approve", w.center_admin)
    assert approved.status_code == 200, approved.text
    assert approved.json()["grant_id"] is not None
    late = _decide(client, make, w, second["id"], "reject", w.station_admin)
    assert (late.status_code, late.json()["code"]) == (409, "invalid_state")
    stars = _stars(client, make, w)
    assert stars["granted_level"] == 2
    assert stars["history"][0]["granted_by_id"] == str(w.center_admin.id)
    history = client.get(
        f"/api/v1/volunteers/{w.member_volunteer.id}/star-applications",
        headers=make.headers(w.member),
    ).json()
    assert [(a["id"], a["status"]) for a in history] == [
        (second["id"], "approved"),
        (first["id"], "rejected"),
    ]
    done = _apply(client, make, w)
    assert (done.status_code, done.json()["code"]) == (422, "already_granted")
    too_high = _apply(client, make, w, level=3)
    assert (too_high.status_code, too_high.json()["code"]) == (422, "not_eligible")
    assert _told(db, "star.changed") == [2]
    db.expire_all()
    rejections = db.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "star.application.rejected")
    ).all()
    assert [m.recipient_user_id for m in rejections] == [w.member.id]


def test_a_grant_stands_but_is_flagged_when_an_amendment_lowers_the_hours(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Settings
) -> None:
    settings.star_thresholds_hours = [1, 3, 6]
    settings.star_auto_grant = True
    w = ow.world
    record = post(client, make, w.leader, entry(w, hours=3.5)).json()
    assert _stars(client, make, w)["granted_level"] == 2
    amended = client.post(
        f"/api/v1/records/{record['id']}/amendments",
        json={"reason": "实际服务2小时", "hours": 2},
        headers=make.headers(w.leader),
    )
    assert amended.status_code == 201, amended.text
    stars = _stars(client, make, w)
    assert (stars["granted_level"], stars["eligible_level"], stars["above_eligible"]) == (
        2,
        1,
        True,
    )
    lowered = client.post(
        f"/api/v1/volunteers/{w.member_volunteer.id}/stars",
        json={"level": 1, "reason": "记录更正后降级"},
        headers=make.headers(w.station_admin),
    )
    assert lowered.status_code == 201, lowered.text
    assert lowered.json()["above_eligible"] is False


def test_the_review_queue_holds_the_applications_of_the_admins_region(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Settings
) -> None:
    settings.star_thresholds_hours = [1, 3, 6]
    w = ow.world
    post(client, make, w.leader, entry(w, hours=1.5))
    applied = _apply(client, make, w).json()
    other = make.world("140803000000")

    def queue(user: Any, query: str = "") -> Any:
        return client.get(f"/api/v1/star-applications{query}", headers=make.headers(user))

    for admin in (w.station_admin, w.center_admin):
        assert [a["id"] for a in queue(admin).json()["items"]] == [applied["id"]]
    assert queue(other.center_admin).json()["items"] == []
    for user in (w.leader, w.member):
        refused = queue(user)
        assert (refused.status_code, refused.json()["code"]) == (403, "admin_required")
    _decide(client, make, w, applied["id"], "approve", w.station_admin)
    assert queue(w.station_admin).json()["items"] == []
    decided = queue(w.station_admin, "?status=approved").json()["items"]
    assert [a["status"] for a in decided] == ["approved"]


def test_the_admins_who_may_decide_an_application_are_told_of_it(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Settings, db: Session
) -> None:
    settings.star_thresholds_hours = [1, 3, 6]
    w = ow.world
    platform = make.platform_admin()
    other = make.world("140803000000")
    beside = make.site_admin(w.township[:9] + "300")  # another village of the same township
    post(client, make, w.leader, entry(w, hours=1.5))
    applied = _apply(client, make, w, note="申请一星")
    assert applied.status_code == 201, applied.text
    db.expire_all()
    told = db.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "star.application.submitted")
    ).all()
    deciders = {w.center_admin.id, w.institute_admin.id, w.station_admin.id, platform.id}
    assert {m.recipient_user_id for m in told} == deciders
    assert len(told) == len(deciders)
    assert {m.recipient_user_id for m in told}.isdisjoint(
        {other.center_admin.id, other.station_admin.id, beside.id, w.leader.id}
    )
    assert {(m.payload["application_id"], m.payload["level"]) for m in told} == {
        (applied.json()["id"], 1)
    }
    decided = _decide(client, make, w, applied.json()["id"], "approve", platform)
    assert decided.status_code == 200, decided.text


def _notices(db: Session, *topics: str) -> list[tuple[Any, ...]]:
    db.expire_all()
    found = db.exec(select(OutboxMessage).where(col(OutboxMessage.topic).in_(topics))).all()
    return sorted(
        (m.topic, m.recipient_user_id, m.payload["level"], m.payload.get("previous_level"))
        for m in found
    )


def test_new_thresholds_tell_the_volunteers_they_now_qualify_once(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Settings, db: Session
) -> None:
    settings.star_thresholds_hours = [100, 200]
    w = ow.world
    other = make.world("140803000000")
    leader = {"volunteer_id": str(w.leader_volunteer.id)}
    for body in (entry(w, hours=3), entry(w, hours=5, **leader), entry(other, hours=5)):
        assert post(client, make, body_leader(w, other, body), body).status_code == 201
    assert _notices(db, "star.eligible", "star.changed") == []
    admin = make.headers(w.center_admin)

    def put(code: str, hours: list[int]) -> None:
        response = client.put(_thresholds(w, code), json={"hours": hours}, headers=admin)
        assert response.status_code == 200, response.text

    put(w.county, [2, 4, 8])
    member, chief = w.member.id, w.leader.id
    told: list[tuple[str, Any, int, int | None]] = [
        ("star.eligible", member, 1, None),
        ("star.eligible", chief, 2, None),
    ]
    assert _notices(db, "star.eligible", "star.changed") == sorted(told)
    assert _stars(client, make, w)["eligible_level"] == 1
    put(w.county, [2, 4, 9])  # nothing newly reached: nobody is told again
    assert _notices(db, "star.eligible", "star.changed") == sorted(told)
    # A village's own thresholds govern it; removing them falls back to the county's.
    put(w.village, [1, 3])
    told.append(("star.eligible", member, 2, None))
    assert _notices(db, "star.eligible", "star.changed") == sorted(told)
    assert client.delete(_thresholds(w), headers=admin).status_code == 204
    assert _notices(db, "star.eligible", "star.changed") == sorted(told)
    assert _stars(client, make, w)["eligible_level"] == 1

    settings.star_auto_grant = True
    put(w.county, [1, 2])  # both qualify for 2: granted, the grant is the notice
    told += [("star.changed", member, 2, 0), ("star.changed", chief, 2, 0)]
    assert _notices(db, "star.eligible", "star.changed") == sorted(told)
    stars = _stars(client, make, w)
    assert (stars["eligible_level"], stars["granted_level"]) == (2, 2)
    assert [h["granted_by_id"] for h in stars["history"]] == [None]
    assert other.member.id not in {recipient for _, recipient, _, _ in told}
    put(w.county, [1, 2, 6])  # no new level reached: no second notice or grant
    assert _notices(db, "star.eligible", "star.changed") == sorted(told)


def body_leader(w: World, other: World, body: dict[str, Any]) -> Any:
    return other.leader if body["team_id"] == str(other.team.id) else w.leader
