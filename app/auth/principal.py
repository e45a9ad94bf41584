"""Who is calling: the user, the roles they hold, and the regions and teams they may act on.

Every signed-in request needs this, so a web process remembers it for a few seconds
(`principal_cache_seconds`, `app.common.refcache`); any change to an account, a volunteer, a
role grant, a membership or a site made in the process applies at once. What is remembered is
a frozen snapshot, never the ORM rows: code that changes an account loads the row itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from app.accounts.models import GrantedRole, RoleGrant, User
from app.common.refcache import cached, peek
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


@dataclass(frozen=True, slots=True)
class Account:
    """The caller's account as of sign-in: what routes read, never what they write."""

    id: uuid.UUID
    username: str | None
    display_name: str
    phone_cipher: bytes | None
    phone_masked: str | None
    home_region_code: str | None

    @classmethod
    def of(cls, user: User) -> Account:
        return cls(
            user.id,
            user.username,
            user.display_name,
            user.phone_cipher,
            user.phone_masked,
            user.home_region_code,
        )


@dataclass(frozen=True, slots=True)
class VolunteerProfile:
    """The caller's volunteer profile, when they have one."""

    id: uuid.UUID
    status: str
    region_code: str


@dataclass(frozen=True)
class Principal:
    user: Account
    platform_admin: bool = False
    integrator: bool = False
    admin_of_sites: tuple[SiteAdminScope, ...] = ()
    volunteer: VolunteerProfile | None = None
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
    def approved_volunteer(self) -> VolunteerProfile | None:
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


# Built once: every request signs in, and building a statement costs more than running it.
# Plain columns, no ORM rows: one row per grant (or one with no grant).
_PRINCIPAL_ROWS = (
    sa_select(
        col(User.id),
        col(User.username),
        col(User.display_name),
        col(User.phone_cipher),
        col(User.phone_masked),
        col(User.home_region_code),
        col(User.is_active),
        col(Volunteer.id),
        col(Volunteer.status),
        col(Volunteer.region_code),
        col(RoleGrant.role),
        col(RoleGrant.site_id),
        col(Site.region_code),
    )
    .outerjoin(Volunteer, col(Volunteer.user_id) == col(User.id))
    .outerjoin(RoleGrant, col(RoleGrant.user_id) == col(User.id))
    .outerjoin(Site, col(Site.id) == col(RoleGrant.site_id))
    .where(col(User.id) == bindparam("user_id"))
)
_MEMBERSHIPS = sa_select(col(TeamMember.team_id), col(TeamMember.role)).where(
    col(TeamMember.volunteer_id) == bindparam("volunteer_id")
)


def load_principal(session: Session, user: User) -> Principal:
    """Roles, admin scope and teams of a user already loaded."""
    principal = load_principal_by_id(session, user.id)
    return principal if principal is not None else Principal(user=Account.of(user))


_NOT_REMEMBERED = object()


def remembered_principal(session: Session, user_id: uuid.UUID) -> tuple[bool, Principal | None]:
    """Whether this process remembers the caller, and as whom (None: as inactive or unknown).
    Reads nothing from the database."""
    found = peek(session, user_id, cache="principal_cache", missing=_NOT_REMEMBERED)
    if found is _NOT_REMEMBERED:
        return False, None
    assert found is None or isinstance(found, Principal)
    return True, found


def load_principal_by_id(session: Session, user_id: uuid.UUID) -> Principal | None:
    """The active user with their volunteer profile, grants and memberships; None for an
    unknown or deactivated account."""
    return cached(
        session, user_id, lambda: _read_principal(session, user_id), cache="principal_cache"
    )


def _read_principal(session: Session, user_id: uuid.UUID) -> Principal | None:
    rows = session.execute(_PRINCIPAL_ROWS, {"user_id": user_id}).all()
    if not rows or not rows[0][6]:
        return None
    first = rows[0]
    account = Account(first[0], first[1], first[2], first[3], first[4], first[5])
    volunteer = VolunteerProfile(first[7], first[8], first[9]) if first[7] is not None else None
    grants = {row[10] for row in rows}
    sites = tuple(
        SiteAdminScope(row[11], row[12])
        for row in rows
        if row[10] == GrantedRole.SITE_ADMIN.value and row[11] and row[12]
    )
    led: frozenset[uuid.UUID] = frozenset()
    members: frozenset[uuid.UUID] = frozenset()
    if volunteer is not None and volunteer.status == VolunteerStatus.APPROVED.value:
        memberships = session.execute(_MEMBERSHIPS, {"volunteer_id": volunteer.id}).all()
        members = frozenset(team_id for team_id, _ in memberships)
        led = frozenset(t for t, role in memberships if role == MemberRole.LEADER.value)
    return Principal(
        user=account,
        platform_admin=GrantedRole.PLATFORM_ADMIN.value in grants,
        integrator=GrantedRole.INTEGRATOR.value in grants,
        admin_of_sites=sites,
        volunteer=volunteer,
        led_team_ids=led,
        member_team_ids=members,
    )
