from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, status

from app.accounts import service
from app.accounts.models import User
from app.accounts.schemas import (
    AdminSiteOut,
    MeOut,
    MeUpdate,
    MyTeamOut,
    MyVolunteerOut,
    UserCreate,
    UserOut,
)
from app.auth.deps import Codec, CurrentPrincipal, PlatformAdmin
from app.auth.principal import Account, Principal
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES
from app.regions.queries import get_region
from app.volunteers.models import VolunteerStatus

router = APIRouter(tags=["accounts"], responses=PROBLEM_RESPONSES)


def me_out(principal: Principal) -> MeOut:
    user = principal.user
    volunteer = principal.volunteer
    return MeOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        phone=user.phone_masked,
        home_region_code=user.home_region_code,
        roles=principal.roles(),
        admin_of_sites=[
            AdminSiteOut(site_id=s.site_id, region_code=s.region_code)
            for s in principal.admin_of_sites
        ],
        volunteer=(
            MyVolunteerOut(id=volunteer.id, status=VolunteerStatus(volunteer.status))
            if volunteer
            else None
        ),
        teams=[
            MyTeamOut(team_id=t, role="leader" if t in principal.led_team_ids else "member")
            for t in sorted(principal.member_team_ids)
        ],
    )


@router.get("/me", response_model=MeOut)
def read_me(caller: CurrentPrincipal) -> MeOut:
    """The caller: roles, the regions they administer, their volunteer profile and teams."""
    return me_out(caller)


@router.patch("/me", response_model=MeOut)
def update_me(body: MeUpdate, session: DbSession, caller: CurrentPrincipal) -> MeOut:
    user = session.get(User, caller.id)
    assert user is not None  # the caller signed in a moment ago
    if body.home_region_code is not None:
        user.home_region_code = get_region(session, body.home_region_code).code
    if body.display_name is not None:
        user.display_name = body.display_name.strip()
    session.commit()
    return me_out(replace(caller, user=Account.of(user)))


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(
    body: UserCreate, session: DbSession, admin: PlatformAdmin, codec: Codec
) -> UserOut:
    """Create a password account (for site admins and staff). Platform admins only."""
    user = service.create_user(
        session=session,
        codec=codec,
        username=body.username,
        password=body.password,
        display_name=body.display_name,
        phone=body.phone,
    )
    session.commit()
    return UserOut(id=user.id, username=user.username, display_name=user.display_name)
