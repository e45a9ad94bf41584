"""Small factories for test data, written straight to the test's database session."""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from sqlmodel import Session, select

from app.accounts.models import GrantedRole, RoleGrant, User
from app.accounts.service import PHONE_CONTEXT, phone_fields
from app.auth.security import hash_password, issue_access_token
from app.common.crypto import SensitiveCodec
from app.common.identity import mask_id_number, mask_phone
from app.common.location import Location, location_columns
from app.config import Settings
from app.demo import synthetic_id_number
from app.regions.codes import level_of, parent_code
from app.regions.models import Region
from app.sites.models import Site
from app.sites.service import SITE_LEVEL_FOR_REGION
from app.teams.models import MemberRole, Team, TeamMember, TeamSpecialty
from app.volunteers.models import Volunteer, VolunteerStatus
from app.volunteers.service import ID_CONTEXT

PASSWORD = "correct horse battery"


@functools.cache
def _hash(password: str) -> str:
    """Argon2 is slow on purpose: hash each test password once per run."""
    return hash_password(password)


_counter = itertools.count(1)


valid_id_number = synthetic_id_number


@dataclass
class Factory:
    session: Session
    settings: Settings
    codec: SensitiveCodec

    def region(self, code: str, name: str | None = None) -> Region:
        existing = self.session.get(Region, code)
        if existing is not None:
            return existing
        parent = parent_code(code)
        if parent is not None:
            self.region(parent)
        region = Region(
            code=code, name=name or f"区划{code}", level=int(level_of(code)), parent_code=parent
        )
        self.session.add(region)
        self.session.flush()
        return region

    def site(
        self, region_code: str, name: str | None = None, location: Location | None = None
    ) -> Site:
        found = self.session.exec(select(Site).where(Site.region_code == region_code)).first()
        if found is not None:
            return found
        region = self.region(region_code)
        site = Site(
            name=name or f"{region.name}实践站点",
            level=SITE_LEVEL_FOR_REGION[level_of(region_code)].value,
            region_code=region_code,
            **location_columns(location),
        )
        self.session.add(site)
        self.session.flush()
        return site

    def user(
        self,
        username: str | None = None,
        *,
        password: str | None = None,
        display_name: str = "测试用户",
        home_region: str | None = None,
        phone: str | None = None,
    ) -> User:
        n = next(_counter)
        if home_region:
            self.region(home_region)
        if username and password is None:
            password = PASSWORD
        password_hash = _hash(password) if password else None
        user = User(
            username=username,
            password_hash=password_hash,
            display_name=display_name,
            home_region_code=home_region,
            **phone_fields(self.codec, phone or f"137{n:08d}"),
        )
        self.session.add(user)
        self.session.flush()
        return user

    def grant(self, user: User, role: GrantedRole, site: Site | None = None) -> None:
        self.session.add(
            RoleGrant(user_id=user.id, role=role.value, site_id=site.id if site else None)
        )
        self.session.flush()

    def platform_admin(self) -> User:
        user = self.user(f"padmin{next(_counter)}", display_name="平台管理员")
        self.grant(user, GrantedRole.PLATFORM_ADMIN)
        return user

    def site_admin(self, region_code: str) -> User:
        site = self.site(region_code)
        user = self.user(
            f"sadmin{next(_counter)}", display_name="站点管理员", home_region=region_code
        )
        self.grant(user, GrantedRole.SITE_ADMIN, site)
        return user

    def volunteer(
        self,
        region_code: str,
        *,
        status: VolunteerStatus = VolunteerStatus.APPROVED,
        user: User | None = None,
        name: str = "测试志愿者",
        with_id_number: bool = True,
    ) -> Volunteer:
        n = next(_counter)
        self.region(region_code)
        user = user or self.user(display_name=name, home_region=region_code)
        phone = f"139{n:08d}"
        volunteer = Volunteer(
            user_id=user.id,
            real_name=name,
            phone_cipher=self.codec.encrypt(phone, context=PHONE_CONTEXT),
            phone_hash=self.codec.lookup_hash(phone, context=PHONE_CONTEXT),
            phone_masked=mask_phone(phone),
            region_code=region_code,
            status=status.value,
        )
        if with_id_number:
            id_number = valid_id_number(n)
            volunteer.id_number_cipher = self.codec.encrypt(id_number, context=ID_CONTEXT)
            volunteer.id_number_hash = self.codec.lookup_hash(id_number, context=ID_CONTEXT)
            volunteer.id_number_masked = mask_id_number(id_number)
        self.session.add(volunteer)
        self.session.flush()
        return volunteer

    def team(
        self,
        region_code: str,
        *,
        name: str | None = None,
        specialties: tuple[str, ...] = ("care",),
        leader: Volunteer | None = None,
        capacity: int = 3,
        location: Location | None = None,
    ) -> Team:
        site = self.site(region_code)
        team = Team(
            name=name or f"测试服务队{next(_counter)}",
            site_id=site.id,
            region_code=site.region_code,
            capacity=capacity,
            **location_columns(location),
        )
        self.session.add(team)
        self.session.flush()
        for code in specialties:
            self.session.add(TeamSpecialty(team_id=team.id, category_code=code))
        if leader is not None:
            self.member(team, leader, MemberRole.LEADER)
        self.session.flush()
        return team

    def member(
        self, team: Team, volunteer: Volunteer, role: MemberRole = MemberRole.MEMBER
    ) -> None:
        self.session.add(TeamMember(team_id=team.id, volunteer_id=volunteer.id, role=role.value))
        self.session.flush()

    def headers(self, user: User) -> dict[str, str]:
        token, _ = issue_access_token(user.id, self.settings)
        return {"Authorization": f"Bearer {token}"}

    def world(self, county: str) -> World:
        """A county with a township and a village, their admins, a team, and its people."""
        township = county[:6] + "100000"
        village = county[:6] + "100200"
        self.region(village)
        leader = self.volunteer(village, name="王队长")
        member = self.volunteer(village, name="李队员")
        team = self.team(village, leader=leader)
        self.member(team, member)
        return World(
            county=county,
            township=township,
            village=village,
            center_admin=self.site_admin(county),
            institute_admin=self.site_admin(township),
            station_admin=self.site_admin(village),
            leader=self.session.get(User, leader.user_id),  # type: ignore[arg-type]
            leader_volunteer=leader,
            member=self.session.get(User, member.user_id),  # type: ignore[arg-type]
            member_volunteer=member,
            team=team,
            resident=self.user(display_name="居民", home_region=village),
            pending=self.volunteer(village, status=VolunteerStatus.PENDING, name="赵申请"),
        )


@dataclass
class World:
    county: str
    township: str
    village: str
    center_admin: User
    institute_admin: User
    station_admin: User
    leader: User
    leader_volunteer: Volunteer
    member: User
    member_volunteer: Volunteer
    team: Team
    resident: User
    pending: Volunteer
