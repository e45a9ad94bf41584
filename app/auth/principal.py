"""Who is calling: the user, the roles they hold, and the regions and teams they may act on."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from app.accounts.models import GrantedRole, RoleGrant, User
from app.regions.scope import RegionScope
from app.sites.models import Site
from app.teams.models import MemberRole, TeamMember
from app.volunteers.models import Volunteer, VolunteerStatus


@dataclass(frozen=True)
class SiteAdminScope:
    site_id: uuid.UUID
    region_code: str


@dataclass(frozen=True)
class ApiKeyGrant:
    """Set when the caller authenticated with an integrator API key."""

    id: uuid.UUID
    scopes: frozenset[str]
    region_code: str | None
    last_used_at: datetime | None = None
    last_used_ip: str | None = None


@dataclass
class Principal:
    user: User
    platform_admin: bool = False
    integrator: bool = False
    admin_of_sites: list[SiteAdminScope] = field(default_factory=list)
    volunteer: Volunteer | None = None
    led_team_ids: frozenset[uuid.UUID] = frozenset()
    member_team_ids: frozenset[uuid.UUID] = frozenset()
    api_key: ApiKeyGrant | None = None

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def admin_scope(self) -> RegionScope:
        """Regions this caller administers: everything for a platform admin; for an API key,
        the key's region (or everything when the key has no region limit)."""
        if self.api_key is not None:
            region = self.api_key.region_code
            return RegionScope.of([region]) if region else RegionScope(everything=True)
        if self.platform_admin:
            return RegionScope(everything=True)
        return RegionScope.of([s.region_code for s in self.admin_of_sites])

    @property
    def is_admin(self) -> bool:
        return self.platform_admin or bool(self.admin_of_sites)

    @property
    def approved_volunteer(self) -> Volunteer | None:
        if self.volunteer and self.volunteer.status == VolunteerStatus.APPROVED.value:
            return self.volunteer
        return None

    def roles(self) -> list[str]:
        roles = ["resident"]
        if self.approved_volunteer:
            roles.append("volunteer")
        if self.led_team_ids:
            roles.append("team_leader")
        if self.admin_of_sites:
            roles.append("site_admin")
        if self.platform_admin:
            roles.append("platform_admin")
        if self.integrator:
            roles.append("integrator")
        return roles


GrantRow = tuple[str, uuid.UUID | None, str | None]  # role, site, the site's region

# Built once: every request signs in, and building a statement costs more than running it.
_PRINCIPAL_ROWS = (
    sa_select(User, Volunteer, col(RoleGrant.role), col(RoleGrant.site_id), col(Site.region_code))
    .outerjoin(Volunteer, col(Volunteer.user_id) == col(User.id))
    .outerjoin(RoleGrant, col(RoleGrant.user_id) == col(User.id))
    .outerjoin(Site, col(Site.id) == col(RoleGrant.site_id))
    .where(col(User.id) == bindparam("user_id"))
)
_MEMBERSHIPS = sa_select(col(TeamMember.team_id), col(TeamMember.role)).where(
    col(TeamMember.volunteer_id) == bindparam("volunteer_id")
)


def _principal(
    session: Session, user: User, volunteer: Volunteer | None, grants: Sequence[GrantRow]
) -> Principal:
    principal = Principal(user=user, volunteer=volunteer)
    for role, site_id, region_code in grants:
        if role == GrantedRole.PLATFORM_ADMIN.value:
            principal.platform_admin = True
        elif role == GrantedRole.INTEGRATOR.value:
            principal.integrator = True
        elif role == GrantedRole.SITE_ADMIN.value and site_id and region_code:
            principal.admin_of_sites.append(SiteAdminScope(site_id, region_code))
    if volunteer is not None and volunteer.status == VolunteerStatus.APPROVED.value:
        memberships = session.execute(_MEMBERSHIPS, {"volunteer_id": volunteer.id}).all()
        principal.member_team_ids = frozenset(team_id for team_id, _ in memberships)
        principal.led_team_ids = frozenset(
            team_id for team_id, role in memberships if role == MemberRole.LEADER.value
        )
    return principal


def load_principal(session: Session, user: User) -> Principal:
    """Roles, admin scope and teams of a user already loaded."""
    principal = load_principal_by_id(session, user.id)
    if principal is None:
        return Principal(user=user)
    return principal


def load_principal_by_id(session: Session, user_id: uuid.UUID) -> Principal | None:
    """The active user, their volunteer profile and their grants in one query (one row per
    grant); a volunteer's memberships in a second."""
    rows = session.execute(_PRINCIPAL_ROWS, {"user_id": user_id}).all()
    if not rows or not rows[0][0].is_active:
        return None
    user, volunteer = rows[0][0], rows[0][1]
    grants = [(r[2], r[3], r[4]) for r in rows if r[2] is not None]
    return _principal(session, user, volunteer, grants)
