"""The demo data that `make run` loads: every README account signs in with its role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.demo import DEMO_PASSWORD, load_demo
from app.regions.models import Region
from app.teams.models import Team


@pytest.fixture
def demo(db: Session, settings: Settings) -> Session:
    assert load_demo(db, SensitiveCodec(settings.data_key_value))
    db.commit()
    return db


EXPECTED_ROLES = {
    "admin": ["resident", "platform_admin"],
    "center": ["resident", "site_admin"],
    "institute": ["resident", "site_admin"],
    "station": ["resident", "site_admin"],
    "leader": ["resident", "volunteer", "team_leader"],
    "volunteer": ["resident", "volunteer"],
    "resident": ["resident"],
}


def test_demo_accounts_sign_in_with_their_roles(
    client: TestClient, demo: Session, settings: Settings
) -> None:
    for username, roles in EXPECTED_ROLES.items():
        login = client.post(
            "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
        )
        assert login.status_code == 200, username
        token = login.json()["access_token"]
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["roles"] == roles, username
    assert not load_demo(demo, SensitiveCodec(settings.data_key_value)), "loads only when empty"


def test_demo_county_is_real_and_complete(demo: Session) -> None:
    county = demo.get(Region, "140802000000")
    assert county is not None
    assert county.name == "盐湖区"
    villages = demo.exec(select(func.count()).select_from(Region).where(Region.level == 5)).one()
    assert villages == 310
    brands = demo.exec(select(Team.brand).where(Team.brand.is_not(None))).all()  # type: ignore[union-attr]
    assert {"红色党员先锋", "蓝色法律援助", "紫色扶贫帮困"} <= set(brands)
