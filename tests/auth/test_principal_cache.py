"""Who a caller is comes from a short-lived per-process cache: a change made in this process
applies to the caller's next request; one made elsewhere within the cache's lifetime."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update
from sqlmodel import Session, col

from app.accounts.models import GrantedRole, User
from app.auth.principal import load_principal_by_id
from app.common.refcache import PRINCIPALS, invalidate_all
from app.teams.models import MemberRole, TeamMember
from tests.factories import PASSWORD, Factory

API = "/api/v1"


def _refused_as_inactive(client: TestClient, make: Factory, user: User) -> None:
    response = client.get(f"{API}/me", headers=make.headers(user))
    assert (response.status_code, response.json()["code"]) == (401, "inactive_account")


def _roles(client: TestClient, make: Factory, user: User) -> list[str]:
    response = client.get(f"{API}/me", headers=make.headers(user))
    assert response.status_code == 200, response.text
    roles: list[str] = response.json()["roles"]
    return roles


def test_a_deactivation_flushed_in_this_process_refuses_the_next_request(
    client: TestClient, make: Factory, db: Session
) -> None:
    user = make.user("cached1")
    assert _roles(client, make, user) == ["resident"]  # remembered now
    user.is_active = False
    db.flush()
    _refused_as_inactive(client, make, user)


def test_a_grant_flushed_in_this_process_applies_to_the_next_request(
    client: TestClient, make: Factory
) -> None:
    user = make.user("cached2")
    assert _roles(client, make, user) == ["resident"]
    make.grant(user, GrantedRole.PLATFORM_ADMIN)
    assert "platform_admin" in _roles(client, make, user)


def test_a_membership_removed_by_a_delete_statement_applies_at_once(
    client: TestClient, make: Factory, db: Session
) -> None:
    """An ORM-level `delete` statement, not a flush: the session hook sees it too."""
    village = "140802100200"
    team = make.team(village)
    volunteer = make.volunteer(village)
    make.member(team, volunteer, MemberRole.LEADER)
    user = db.get(User, volunteer.user_id)
    assert user is not None
    assert "team_leader" in _roles(client, make, user)
    db.execute(delete(TeamMember).where(col(TeamMember.volunteer_id) == volunteer.id))
    assert "team_leader" not in _roles(client, make, user)


def test_a_change_below_the_session_waits_for_the_lifetime(
    client: TestClient, make: Factory, db: Session
) -> None:
    """What another web process changed: this process has no hook that sees it."""
    user = make.user("cached3")
    assert _roles(client, make, user) == ["resident"]
    db.connection().execute(update(User).where(col(User.id) == user.id).values(is_active=False))
    assert _roles(client, make, user) == ["resident"]  # still the remembered principal
    invalidate_all()  # as the lifetime running out would
    _refused_as_inactive(client, make, user)


def test_the_generation_moves_at_the_flush_and_again_at_the_commit(
    make: Factory, db: Session
) -> None:
    """A request that read the account between the flush and the commit still saw the old
    row; the second move drops what it remembered."""
    user = make.user("cached4")
    db.commit()
    before = PRINCIPALS.value
    user.display_name = "改名"
    db.flush()
    flushed = PRINCIPALS.value
    db.commit()
    assert before < flushed < PRINCIPALS.value


def test_the_remembered_principal_cannot_be_changed_by_a_request(
    make: Factory, db: Session
) -> None:
    principal = load_principal_by_id(db, make.user("cached5").id)
    assert principal is not None
    with pytest.raises(FrozenInstanceError):
        principal.platform_admin = True  # type: ignore[misc]


def test_a_sign_in_leaves_the_remembered_principals_but_a_new_name_drops_them(
    client: TestClient, make: Factory, db: Session
) -> None:
    """Signing in stamps `last_login_at`, which nothing cached depends on."""
    user = make.user("cached6")
    before = PRINCIPALS.value
    signed_in = client.post(f"{API}/auth/token", data={"username": "cached6", "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    assert PRINCIPALS.value == before
    user.display_name = "新名字"
    db.flush()
    assert PRINCIPALS.value > before
