"""Every write to volunteers, teams and memberships reaches the feed, also the ones that bypass
the ORM (the volunteer review is a compare-and-set `UPDATE`)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.teams.models import TeamMember
from tests.factories import Factory, valid_id_number
from tests.sync.conftest import Feed, OrderWorld

API = "/api/v1"
REVIEWED = ["review_reason", "reviewed_at", "reviewed_by_id", "status", "updated_at"]


def membership(db: Session, team_id: object, volunteer_id: object) -> str:
    row = db.exec(
        select(TeamMember).where(
            TeamMember.team_id == team_id, TeamMember.volunteer_id == volunteer_id
        )
    ).one()
    return str(row.id)


def test_a_volunteer_registers_edits_and_is_approved(
    ow: OrderWorld, feed: Feed, client: TestClient, make: Factory
) -> None:
    w = ow.world
    applicant = make.user(display_name="陈晓华", home_region=w.village)
    own = make.headers(applicant)
    feed.start()

    body = {
        "real_name": "陈晓华",
        "phone": "13912341234",
        "id_number": valid_id_number(30901),
        "region_code": w.village,
    }
    registered = client.post(f"{API}/volunteers", json=body, headers=own)
    assert registered.status_code == 201, registered.text
    volunteer_id = registered.json()["id"]
    assert feed.step() == [("volunteer", volunteer_id, "create")]

    edited = client.patch(
        f"{API}/volunteers/{volunteer_id}", json={"skills": ["care"]}, headers=own
    )
    assert edited.status_code == 200, edited.text
    [change] = feed.changes()
    assert (change["entity_id"], change["op"]) == (volunteer_id, "update")
    assert "skills" in change["fields"]

    approved = client.post(
        f"{API}/volunteers/{volunteer_id}/approve", headers=make.headers(w.station_admin)
    )
    assert approved.status_code == 200, approved.text
    [change] = feed.changes()
    assert (change["entity"], change["entity_id"], change["op"]) == (
        "volunteer",
        volunteer_id,
        "update",
    )
    assert (change["fields"], change["region_code"]) == (REVIEWED, w.village)

    again = client.post(
        f"{API}/volunteers/{volunteer_id}/approve", headers=make.headers(w.station_admin)
    )
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_state"
    assert feed.step() == []  # a refused review reports nothing
    feed.replay()


def test_a_rejection_is_reported_to_the_region_it_belongs_to(
    ow: OrderWorld, feed: Feed, client: TestClient, make: Factory
) -> None:
    w = ow.world
    other = make.world("140803000000")
    feed.start()
    _, theirs = feed.drain("0", other.center_admin)
    _, mine = feed.drain("0", w.station_admin)

    rejected = client.post(
        f"{API}/volunteers/{w.pending.id}/reject",
        json={"reason": "资料不全,请补充"},
        headers=make.headers(w.station_admin),
    )
    assert rejected.status_code == 200, rejected.text
    assert feed.step() == [("volunteer", str(w.pending.id), "update")]
    seen, _ = feed.drain(mine, w.station_admin)
    assert [(c["entity_id"], c["region_code"]) for c in seen] == [(str(w.pending.id), w.village)]
    assert feed.drain(theirs, other.center_admin)[0] == []
    feed.replay()


def test_a_team_is_founded_staffed_and_led(
    ow: OrderWorld, feed: Feed, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    admin = make.headers(w.station_admin)
    founder = make.volunteer(w.village, name="陈律师")
    newcomer = make.volunteer(w.village, name="孙新人")
    feed.start()

    founded = client.post(
        f"{API}/teams",
        json={
            "name": "蓝色法律援助志愿服务队",
            "site_id": str(make.site(w.village).id),
            "specialties": ["legal_aid"],
            "leader_volunteer_id": str(founder.id),
        },
        headers=admin,
    )
    assert founded.status_code == 201, founded.text
    team_id = founded.json()["id"]
    founder_membership = membership(db, uuid.UUID(team_id), founder.id)
    assert sorted(feed.step()) == [
        ("team", team_id, "create"),
        ("team_member", founder_membership, "create"),
    ]

    members = f"{API}/teams/{team_id}/members"
    added = client.post(members, json={"volunteer_id": str(newcomer.id)}, headers=admin)
    assert added.status_code == 201, added.text
    newcomer_membership = membership(db, uuid.UUID(team_id), newcomer.id)
    # The team's `updated_at` moves with its membership.
    assert sorted(feed.step()) == [
        ("team", team_id, "update"),
        ("team_member", newcomer_membership, "create"),
    ]

    led = client.patch(
        f"{API}/teams/{team_id}", json={"leader_volunteer_id": str(newcomer.id)}, headers=admin
    )
    assert led.status_code == 200, led.text
    assert sorted(feed.step()) == sorted(
        [
            ("team", team_id, "update"),
            ("team_member", founder_membership, "update"),
            ("team_member", newcomer_membership, "update"),
        ]
    )

    removed = client.delete(f"{members}/{founder.id}", headers=admin)
    assert removed.status_code == 204, removed.text
    assert sorted(feed.step()) == [
        ("team", team_id, "update"),
        ("team_member", founder_membership, "delete"),
    ]
    feed.replay()
