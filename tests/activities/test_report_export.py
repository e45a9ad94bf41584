"""The activity record's export carries the filed fields, the deadline and the attendance."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.activities.test_activities import PLACE, move_to_the_past, publish
from tests.factories import Factory

REPORT = {
    "organiser": "曲村新时代文明实践站", "leading_official": "王书记", "party_members": 2,
    "unit_party_members": 12, "report": "为村民义诊", "notes": "雨天改在室内",
}  # fmt: skip


def test_the_export_lists_each_volunteer_with_times_and_hours(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    other = make.world("140803000000")
    activity = publish(client, make, w, capacity=3)
    url = f"/api/v1/activities/{activity['id']}"
    absent = make.volunteer(w.village, name="吴缺席")
    make.member(w.team, absent)
    db.commit()
    for user in (w.member, w.leader):
        assert client.post(f"{url}/signups", headers=make.headers(user)).status_code == 201
    phone = client.post(f"{url}/check-in", json={"location": PLACE}, headers=make.headers(w.member))
    assert phone.status_code == 200
    move_to_the_past(db, activity["id"])  # 90 minutes, ended half an hour ago
    roster = {"entries": [{"volunteer_id": str(w.leader_volunteer.id)}]}
    assert (
        client.post(f"{url}/roster", json=roster, headers=make.headers(w.leader)).status_code == 200
    )
    body = {
        "attendance": [
            {"volunteer_id": str(w.member_volunteer.id), "hours": 1.25},
            {"volunteer_id": str(w.leader_volunteer.id)},
        ]
    }
    assert (
        client.post(f"{url}/confirm", json=body, headers=make.headers(w.leader)).status_code == 200
    )
    assert (
        client.put(f"{url}/report", json=REPORT, headers=make.headers(w.leader)).status_code == 200
    )

    as_json = client.get(url + "/report", headers=make.headers(w.station_admin)).json()
    record = as_json["record"]
    assert (record["volunteers"], record["total_hours"], record["notes"]) == (
        2,
        2.75,
        "雨天改在室内",
    )
    ends = datetime.fromisoformat(record["ends_at"])
    assert datetime.fromisoformat(record["report_due_at"]) == ends + timedelta(days=3)
    by_name = {a["name"]: a for a in as_json["attendance"]}
    assert set(by_name) == {"李队员", "王队长"}
    member, leader = by_name["李队员"], by_name["王队长"]
    assert (member["check_in_by"], member["hours"]) == ("phone", 1.25)
    checked_in = datetime.fromisoformat(phone.json()["checked_in_at"])
    assert datetime.fromisoformat(member["checked_in_at"]) == checked_in
    assert member["checked_out_at"] is None
    assert (leader["check_in_by"], leader["hours"]) == ("roster", 1.5)
    assert leader["checked_in_at"] == record["starts_at"]
    assert leader["checked_out_at"] == record["ends_at"]

    response = client.get(f"{url}/report?format=csv", headers=make.headers(w.leader))
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"))))
    header, values = rows[0], rows[1]
    filed = dict(zip(header, values, strict=True))
    assert (filed["组织单位"], filed["参加志愿者人数"], filed["服务总时长"]) == (
        "曲村新时代文明实践站",
        "2",
        "2.75",
    )
    assert filed["填报期限"] == record["report_due_at"]
    assert rows[2] == []
    table = [dict(zip(rows[3], row, strict=True)) for row in rows[4:]]
    assert rows[3] == ["志愿者", "志愿者编号", "报名状态", "签到时间", "签退时间", "签到方式",
                       "服务时长(小时)"]  # fmt: skip
    assert {(r["志愿者"], r["签到方式"], r["服务时长(小时)"]) for r in table} == {
        ("李队员", "phone", "1.25"),
        ("王队长", "roster", "1.5"),
    }
    leader_row = next(r for r in table if r["志愿者"] == "王队长")
    assert (leader_row["签到时间"], leader_row["签退时间"]) == (
        record["starts_at"],
        record["ends_at"],
    )
    assert leader_row["志愿者编号"] == str(w.leader_volunteer.id)

    for user in (w.member, other.leader, other.center_admin):
        refused = client.get(f"{url}/report?format=csv", headers=make.headers(user))
        assert refused.status_code == 403
        assert refused.json()["code"] == "not_activity_manager"
