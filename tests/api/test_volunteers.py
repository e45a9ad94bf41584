"""Volunteers: self-registration, masking of personal numbers, review, audited unmasking, skills."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.accounts.service import PHONE_CONTEXT
from app.audit.models import AuditEntry
from app.catalog.models import Category
from app.common.identity import id_check_char
from app.volunteers.models import Volunteer, VolunteerStatus
from app.volunteers.service import ID_CONTEXT
from tests.auth.conftest import problem
from tests.factories import Factory, World, valid_id_number

URL = "/api/v1/volunteers"
COUNTY = "140802000000"
VILLAGE = "140802100200"
OTHER_VILLAGE = "140802100300"
PHONE = "13912341234"
PHONE_MASKED = "139****1234"
ID_NUMBER = valid_id_number(20901)
OTHER_ID_NUMBER = valid_id_number(20902)
ID_MASKED = "140802********" + ID_NUMBER[-4:]
PERSONAL_READ = "volunteer.personal_data.read"


def registration(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "real_name": "  陈晓华 ",
        "phone": PHONE,
        "id_number": ID_NUMBER,
        "region_code": VILLAGE,
        "skills": ["care", "legal_aid"],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def register(client: TestClient, make: Factory, user: User, **overrides: Any) -> httpx.Response:
    response: httpx.Response = client.post(
        URL, json=registration(**overrides), headers=make.headers(user)
    )
    return response


def with_check_char(first17: str) -> str:
    return first17 + id_check_char(first17)


def assert_no_raw_numbers(response: httpx.Response, *raw: str) -> None:
    assert response.status_code < 400, response.text
    for value in raw:
        assert value not in response.text, f"{value} leaked in {response.request.url}"


def audit_entries(db: Session, subject_id: object) -> list[AuditEntry]:
    db.expire_all()
    rows = db.exec(
        select(AuditEntry)
        .where(AuditEntry.subject_id == str(subject_id))
        .order_by(col(AuditEntry.at))
    ).all()
    return list(rows)


@pytest.fixture
def world(make: Factory) -> World:
    return make.world(COUNTY)


@pytest.fixture
def applicant(make: Factory, world: World) -> User:
    return make.user(display_name="陈晓华", home_region=world.village)


@pytest.fixture
def registered(client: TestClient, make: Factory, applicant: User) -> dict[str, Any]:
    response = register(client, make, applicant)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# --- registration ---------------------------------------------------------------------------


def test_register_self_answers_with_masked_numbers(
    client: TestClient, make: Factory, applicant: User
) -> None:
    response = register(client, make, applicant)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["user_id"] == str(applicant.id)
    assert body["real_name"] == "陈晓华"
    assert body["phone"] == PHONE_MASKED
    assert body["id_number"] == ID_MASKED
    assert body["region_code"] == VILLAGE
    assert body["skills"] == ["care", "legal_aid"]
    assert body["national_code"] is None
    assert body["status"] == "pending"
    assert body["review_reason"] is None
    assert body["reviewed_at"] is None
    assert_no_raw_numbers(response, PHONE, ID_NUMBER)


def test_numbers_are_encrypted_at_rest(
    client: TestClient, make: Factory, db: Session, registered: dict[str, Any]
) -> None:
    volunteer = db.get(Volunteer, uuid.UUID(registered["id"]))
    assert volunteer is not None
    assert volunteer.id_number_cipher is not None
    assert PHONE.encode() not in volunteer.phone_cipher
    assert ID_NUMBER.encode() not in volunteer.id_number_cipher
    assert make.codec.decrypt(volunteer.phone_cipher, context=PHONE_CONTEXT) == PHONE
    assert make.codec.decrypt(volunteer.id_number_cipher, context=ID_CONTEXT) == ID_NUMBER
    assert volunteer.id_number_hash == make.codec.lookup_hash(ID_NUMBER, context=ID_CONTEXT)
    assert volunteer.phone_masked == PHONE_MASKED
    assert volunteer.id_number_masked == ID_MASKED


def test_raw_numbers_appear_in_no_response(
    client: TestClient, make: Factory, world: World, applicant: User, registered: dict[str, Any]
) -> None:
    volunteer_id = registered["id"]
    own = make.headers(applicant)
    admin = make.headers(world.station_admin)
    county_admin = make.headers(world.center_admin)
    responses = [
        client.get(URL, headers=own),
        client.get(f"{URL}/{volunteer_id}", headers=own),
        client.get("/api/v1/me", headers=own),
        client.get(URL, headers=admin),
        client.get(f"{URL}?status=pending&region={VILLAGE}", headers=admin),
        client.get(f"{URL}/{volunteer_id}", headers=admin),
        client.get(URL, headers=county_admin),
        client.patch(f"{URL}/{volunteer_id}", json={"skills": ["care"]}, headers=own),
        client.post(f"{URL}/{volunteer_id}/approve", headers=admin),
        client.get(f"{URL}/{volunteer_id}", headers=own),
    ]
    for response in responses:
        assert_no_raw_numbers(response, PHONE, ID_NUMBER)

    own_list = responses[0].json()["items"]
    assert [v["id"] for v in own_list] == [volunteer_id]
    assert own_list[0]["phone"] == PHONE_MASKED
    assert own_list[0]["id_number"] == ID_MASKED
    admin_item = next(v for v in responses[3].json()["items"] if v["id"] == volunteer_id)
    assert admin_item["phone"] == PHONE_MASKED
    assert admin_item["id_number"] == ID_MASKED
    pending = [v["real_name"] for v in responses[4].json()["items"]]
    assert sorted(pending) == sorted(["陈晓华", "赵申请"])
    assert responses[5].json()["id_number"] == ID_MASKED
    me = responses[2].json()
    assert me["volunteer"] == {"id": volunteer_id, "status": "pending"}
    assert me["roles"] == ["resident"]


def test_me_shows_the_volunteer_role_once_approved(
    client: TestClient, make: Factory, world: World, applicant: User, registered: dict[str, Any]
) -> None:
    approve = client.post(
        f"{URL}/{registered['id']}/approve", headers=make.headers(world.station_admin)
    )
    assert approve.status_code == 200, approve.text

    me = client.get("/api/v1/me", headers=make.headers(applicant)).json()
    assert me["roles"] == ["resident", "volunteer"]
    assert me["volunteer"] == {"id": registered["id"], "status": "approved"}


def test_register_without_id_number(client: TestClient, make: Factory, applicant: User) -> None:
    response = register(client, make, applicant, id_number=None, skills=[])

    assert response.status_code == 201, response.text
    assert response.json()["id_number"] is None
    assert response.json()["skills"] == []


def test_id_number_with_lower_case_x_is_normalised(
    client: TestClient, make: Factory, applicant: User
) -> None:
    id_number = valid_id_number(20919)
    assert id_number.endswith("X")

    response = register(client, make, applicant, id_number=id_number.lower())

    assert response.status_code == 201, response.text
    assert response.json()["id_number"] == "140802********" + id_number[-4:]
    personal = client.get(
        f"{URL}/{response.json()['id']}/personal", headers=make.headers(applicant)
    )
    assert personal.json()["id_number"] == id_number


@pytest.mark.parametrize(
    "id_number",
    [
        pytest.param(ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1"), id="check_digit"),
        pytest.param(with_check_char("14080219901332123"), id="month_13"),
        pytest.param(with_check_char("14080220230229123"), id="february_29_2023"),
        pytest.param(with_check_char("14080219900100123"), id="day_0"),
        pytest.param(ID_NUMBER[:17], id="17_characters"),
        pytest.param("1408021990010112Y3", id="letter_inside"),
        pytest.param("14080219900101123Y", id="letter_other_than_x"),
    ],
)
def test_invalid_id_number_is_422(
    client: TestClient, make: Factory, db: Session, applicant: User, id_number: str
) -> None:
    problem(register(client, make, applicant, id_number=id_number), 422, "invalid_id_number")
    assert db.exec(select(Volunteer).where(Volunteer.user_id == applicant.id)).first() is None


def test_id_number_longer_than_18_is_a_validation_error(
    client: TestClient, make: Factory, applicant: User
) -> None:
    problem(register(client, make, applicant, id_number=ID_NUMBER + "1"), 422, "validation_error")


def test_unknown_region_is_404(client: TestClient, make: Factory, applicant: User) -> None:
    problem(register(client, make, applicant, region_code="140802999999"), 404, "region_not_found")


def test_malformed_region_is_422(client: TestClient, make: Factory, applicant: User) -> None:
    problem(register(client, make, applicant, region_code="1408021002"), 422, "validation_error")


def test_unknown_skill_is_422(client: TestClient, make: Factory, applicant: User) -> None:
    body = problem(
        register(client, make, applicant, skills=["care", "juggling"]), 422, "unknown_category"
    )
    assert "juggling" in body["detail"]


def test_inactive_skill_is_422(
    client: TestClient, make: Factory, db: Session, applicant: User
) -> None:
    category = db.get(Category, "traffic")
    assert category is not None
    category.active = False
    db.add(category)
    db.flush()

    problem(register(client, make, applicant, skills=["traffic"]), 422, "unknown_category")


def test_duplicate_skills_are_stored_once(
    client: TestClient, make: Factory, applicant: User
) -> None:
    response = register(client, make, applicant, skills=["care", "care", "safety"])

    assert response.status_code == 201, response.text
    assert response.json()["skills"] == ["care", "safety"]


@pytest.mark.parametrize("phone", ["12345678901", "010-62345678", "1391234123"])
def test_invalid_phone_is_422(
    client: TestClient, make: Factory, applicant: User, phone: str
) -> None:
    problem(register(client, make, applicant, phone=phone), 422, "invalid_phone")


def test_registration_needs_a_signed_in_user(client: TestClient, world: World) -> None:
    problem(client.post(URL, json=registration()), 401, "not_authenticated")


def test_second_registration_is_409(
    client: TestClient, make: Factory, applicant: User, registered: dict[str, Any]
) -> None:
    body = problem(
        register(client, make, applicant, id_number=OTHER_ID_NUMBER), 409, "already_registered"
    )
    assert body["current_state"] == "pending"


def test_existing_volunteer_cannot_register_again(
    client: TestClient, make: Factory, world: World
) -> None:
    body = problem(
        register(client, make, world.member, id_number=OTHER_ID_NUMBER), 409, "already_registered"
    )
    assert body["current_state"] == "approved"


def test_id_number_of_another_volunteer_is_409(
    client: TestClient, make: Factory, db: Session, registered: dict[str, Any]
) -> None:
    other = make.user(display_name="冒用者", home_region=VILLAGE)

    problem(
        register(client, make, other, phone="13900001111", id_number=ID_NUMBER.lower()),
        409,
        "id_number_taken",
    )
    assert db.exec(select(Volunteer).where(Volunteer.user_id == other.id)).first() is None
    me = client.get("/api/v1/me", headers=make.headers(other)).json()
    assert me["volunteer"] is None


def test_national_code_of_another_volunteer_is_409(
    client: TestClient, make: Factory, applicant: User
) -> None:
    assert register(client, make, applicant, national_code="NV-0001").status_code == 201
    other = make.user(home_region=VILLAGE)

    problem(
        register(client, make, other, id_number=OTHER_ID_NUMBER, national_code="NV-0001"),
        409,
        "national_code_taken",
    )


# --- review ---------------------------------------------------------------------------------


def approve(client: TestClient, make: Factory, admin: User, volunteer_id: object) -> httpx.Response:
    response: httpx.Response = client.post(
        f"{URL}/{volunteer_id}/approve", headers=make.headers(admin)
    )
    return response


def reject(
    client: TestClient, make: Factory, admin: User, volunteer_id: object, reason: str
) -> httpx.Response:
    response: httpx.Response = client.post(
        f"{URL}/{volunteer_id}/reject", json={"reason": reason}, headers=make.headers(admin)
    )
    return response


def test_station_admin_approves(
    client: TestClient, make: Factory, db: Session, world: World, registered: dict[str, Any]
) -> None:
    response = client.post(
        f"{URL}/{registered['id']}/approve",
        json={"note": "资料齐全"},
        headers=make.headers(world.station_admin),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "approved"
    assert body["review_reason"] == "资料齐全"
    assert body["reviewed_at"] is not None
    db.expire_all()
    volunteer = db.get(Volunteer, uuid.UUID(registered["id"]))
    assert volunteer is not None
    assert volunteer.status == VolunteerStatus.APPROVED.value
    assert volunteer.reviewed_by_id == world.station_admin.id


def test_approve_twice_is_409_with_current_state(
    client: TestClient, make: Factory, world: World, registered: dict[str, Any]
) -> None:
    assert approve(client, make, world.station_admin, registered["id"]).status_code == 200

    body = problem(
        approve(client, make, world.station_admin, registered["id"]), 409, "invalid_state"
    )
    assert body["current_state"] == "approved"
    body = problem(
        reject(client, make, world.institute_admin, registered["id"], "重复审核"),
        409,
        "invalid_state",
    )
    assert body["current_state"] == "approved"


def test_reject_needs_a_reason_of_two_characters(
    client: TestClient, make: Factory, world: World, registered: dict[str, Any]
) -> None:
    admin = make.headers(world.station_admin)
    url = f"{URL}/{registered['id']}/reject"

    problem(client.post(url, json={"reason": "x"}, headers=admin), 422, "validation_error")
    problem(client.post(url, json={"reason": ""}, headers=admin), 422, "validation_error")
    problem(client.post(url, json={}, headers=admin), 422, "validation_error")
    problem(client.post(url, headers=admin), 422, "validation_error")
    still = client.get(f"{URL}/{registered['id']}", headers=admin).json()
    assert still["status"] == "pending"

    response = reject(client, make, world.station_admin, registered["id"], "资料")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "rejected"
    assert response.json()["review_reason"] == "资料"


def test_rejected_volunteer_can_be_approved_later(
    client: TestClient, make: Factory, world: World, applicant: User, registered: dict[str, Any]
) -> None:
    rejected = reject(client, make, world.station_admin, registered["id"], "身份信息不完整")
    assert rejected.json()["status"] == "rejected"
    own = client.get(f"{URL}/{registered['id']}", headers=make.headers(applicant)).json()
    assert own["review_reason"] == "身份信息不完整"

    body = problem(
        reject(client, make, world.station_admin, registered["id"], "再次驳回"),
        409,
        "invalid_state",
    )
    assert body["current_state"] == "rejected"

    response = approve(client, make, world.station_admin, registered["id"])
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"
    assert response.json()["review_reason"] is None


@pytest.mark.parametrize("reviewer", ["institute_admin", "center_admin"])
def test_admins_higher_up_may_review(
    client: TestClient, make: Factory, world: World, registered: dict[str, Any], reviewer: str
) -> None:
    admin: User = getattr(world, reviewer)

    response = approve(client, make, admin, registered["id"])

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"


def test_platform_admin_may_review(
    client: TestClient, make: Factory, registered: dict[str, Any]
) -> None:
    response = reject(client, make, make.platform_admin(), registered["id"], "不符合条件")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "rejected"


def test_admin_of_another_village_cannot_review(
    client: TestClient, make: Factory, world: World, registered: dict[str, Any]
) -> None:
    outsider = make.site_admin(OTHER_VILLAGE)

    problem(approve(client, make, outsider, registered["id"]), 404, "volunteer_not_found")
    problem(reject(client, make, outsider, registered["id"], "越权"), 404, "volunteer_not_found")
    still = client.get(f"{URL}/{registered['id']}", headers=make.headers(world.station_admin))
    assert still.json()["status"] == "pending"


def test_non_admins_cannot_review(
    client: TestClient, make: Factory, world: World, applicant: User, registered: dict[str, Any]
) -> None:
    for user in (applicant, world.resident, world.leader):
        problem(approve(client, make, user, registered["id"]), 403, "admin_required")
        problem(reject(client, make, user, registered["id"], "无权"), 403, "admin_required")


def test_reviewing_an_unknown_volunteer_is_404(
    client: TestClient, make: Factory, world: World
) -> None:
    problem(approve(client, make, world.station_admin, uuid.uuid4()), 404, "volunteer_not_found")


# --- visibility and personal data -----------------------------------------------------------


def test_volunteer_is_hidden_from_users_out_of_scope(
    client: TestClient, make: Factory, world: World, registered: dict[str, Any]
) -> None:
    outsider = make.site_admin(OTHER_VILLAGE)
    for user in (outsider, world.resident, world.leader):
        headers = make.headers(user)
        problem(
            client.get(f"{URL}/{registered['id']}", headers=headers), 404, "volunteer_not_found"
        )
        listed = [v["id"] for v in client.get(URL, headers=headers).json()["items"]]
        assert registered["id"] not in listed


@pytest.mark.parametrize("reader", ["self", "station_admin", "center_admin"])
def test_personal_data_is_unmasked_and_audited(
    client: TestClient,
    make: Factory,
    db: Session,
    world: World,
    applicant: User,
    registered: dict[str, Any],
    reader: str,
) -> None:
    user = applicant if reader == "self" else getattr(world, reader)
    assert audit_entries(db, registered["id"]) == []

    response = client.get(f"{URL}/{registered['id']}/personal", headers=make.headers(user))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": registered["id"],
        "real_name": "陈晓华",
        "phone": PHONE,
        "id_number": ID_NUMBER,
    }
    [entry] = audit_entries(db, registered["id"])
    assert entry.actor_user_id == user.id
    assert entry.action == PERSONAL_READ
    assert entry.subject_type == "volunteer"

    client.get(f"{URL}/{registered['id']}/personal", headers=make.headers(user))
    assert len(audit_entries(db, registered["id"])) == 2


def test_personal_data_is_404_out_of_scope_and_not_audited(
    client: TestClient, make: Factory, db: Session, world: World, registered: dict[str, Any]
) -> None:
    outsider = make.site_admin(OTHER_VILLAGE)
    other_county = make.site_admin("140803000000")
    for user in (outsider, other_county, world.resident):
        response = client.get(f"{URL}/{registered['id']}/personal", headers=make.headers(user))
        problem(response, 404, "volunteer_not_found")
        assert PHONE not in response.text
    problem(
        client.get(f"{URL}/{uuid.uuid4()}/personal", headers=make.headers(world.station_admin)),
        404,
        "volunteer_not_found",
    )
    assert audit_entries(db, registered["id"]) == []


def test_team_leader_sees_members_but_not_their_personal_data(
    client: TestClient, make: Factory, db: Session, world: World
) -> None:
    member_id = world.member_volunteer.id
    leader = make.headers(world.leader)

    seen = client.get(f"{URL}/{member_id}", headers=leader)
    assert seen.status_code == 200, seen.text
    assert seen.json()["phone"].count("*") == 4

    problem(client.get(f"{URL}/{member_id}/personal", headers=leader), 404, "volunteer_not_found")
    assert audit_entries(db, member_id) == []


def test_personal_data_needs_a_signed_in_user(
    client: TestClient, registered: dict[str, Any]
) -> None:
    problem(client.get(f"{URL}/{registered['id']}/personal"), 401, "not_authenticated")


# --- skills ---------------------------------------------------------------------------------


def test_volunteer_updates_own_skills(
    client: TestClient, make: Factory, db: Session, applicant: User, registered: dict[str, Any]
) -> None:
    url = f"{URL}/{registered['id']}"
    own = make.headers(applicant)

    response = client.patch(
        url, json={"skills": ["tutoring", "emergency", "tutoring"]}, headers=own
    )

    assert response.status_code == 200, response.text
    assert response.json()["skills"] == ["tutoring", "emergency"]
    assert client.get(url, headers=own).json()["skills"] == ["tutoring", "emergency"]
    db.expire_all()
    volunteer = db.get(Volunteer, uuid.UUID(registered["id"]))
    assert volunteer is not None
    assert volunteer.skills == ["tutoring", "emergency"]
    # Omitting skills leaves them alone; an empty list clears them.
    assert client.patch(url, json={}, headers=own).json()["skills"] == ["tutoring", "emergency"]
    assert client.patch(url, json={"skills": []}, headers=own).json()["skills"] == []


def test_unknown_skill_in_update_is_422(
    client: TestClient, make: Factory, applicant: User, registered: dict[str, Any]
) -> None:
    url = f"{URL}/{registered['id']}"
    own = make.headers(applicant)

    problem(
        client.patch(url, json={"skills": ["care", "nope"]}, headers=own), 422, "unknown_category"
    )
    assert client.get(url, headers=own).json()["skills"] == ["care", "legal_aid"]


def test_status_is_not_writable_through_patch(
    client: TestClient, make: Factory, applicant: User, registered: dict[str, Any]
) -> None:
    url = f"{URL}/{registered['id']}"
    own = make.headers(applicant)

    response = client.patch(url, json={"status": "approved"}, headers=own)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending"


def test_others_cannot_update_skills(client: TestClient, make: Factory, world: World) -> None:
    member_url = f"{URL}/{world.member_volunteer.id}"
    for user in (world.resident, world.leader, make.site_admin(OTHER_VILLAGE)):
        problem(
            client.patch(member_url, json={"skills": ["care"]}, headers=make.headers(user)),
            404,
            "volunteer_not_found",
        )
    # An admin over the volunteer may.
    response = client.patch(
        member_url, json={"skills": ["safety"]}, headers=make.headers(world.station_admin)
    )
    assert response.status_code == 200, response.text
    assert response.json()["skills"] == ["safety"]
