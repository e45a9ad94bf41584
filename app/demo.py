"""Demo data for 盐湖区 (Yuncheng, Shanxi): real regions, synthetic sites, teams and people.

    python -m app.demo        # loads into an empty database only

Region codes and names are real (see app/regions/data/SOURCE.md). Site and team coordinates are
synthetic points placed deterministically around the district; people, phone and ID numbers are
invented and marked as demo data. Production never loads this (it refuses outside development).
"""

from __future__ import annotations

import hashlib
import math
import sys
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from app.accounts.models import GrantedRole, RoleGrant, User
from app.accounts.service import PHONE_CONTEXT, phone_fields
from app.auth.security import hash_password
from app.common.crypto import SensitiveCodec
from app.common.geo import CoordSystem
from app.common.identity import id_check_char, mask_id_number, mask_phone
from app.common.location import Location, location_columns
from app.regions.load import DEMO_COUNTY_FILE, load_regions
from app.regions.models import Region
from app.sites.models import Site, SiteLevel
from app.teams.models import MemberRole, Team, TeamMember, TeamSpecialty
from app.volunteers.models import Volunteer, VolunteerStatus
from app.volunteers.service import ID_CONTEXT

DEMO_PASSWORD = "demo1234"  # noqa: S105  (demo data only)
COUNTY_CODE = "140802000000"  # 盐湖区
INSTITUTE_TOWNSHIP = "140802100000"  # 解州镇
STATION_VILLAGE = "140802100200"  # 曲村村委会, 解州镇
DISTRICT_CENTRE = (35.0266, 111.0069)  # WGS-84, near the district government

# Seed 000's colour brands and the specialties each usually covers.
BRAND_TEAMS = [
    ("红色党员先锋", ["theory_talk", "party_history", "policy_outreach"]),
    ("绿色产业技术", ["policy_outreach", "science_outreach"]),
    ("蓝色法律援助", ["legal_aid", "safety", "care"]),
    ("黄色文明新风", ["civility", "health_education", "medical_fitness"]),
    ("橙色文化文艺", ["culture_arts"]),
    ("金色科教文卫", ["health_education", "medical_fitness", "civic_sanitation"]),
    ("紫色扶贫帮困", ["poverty_relief", "care"]),
]
ROTATING_SPECIALTIES = [
    ["care", "digital_elderly", "safety"],
    ["civility", "environment", "civic_sanitation"],
    ["policy_outreach", "legal_aid"],
    ["health_education", "medical_fitness"],
    ["youth", "tutoring", "family_education"],
    ["culture_arts", "theory_talk"],
]
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志成文斌海波辉鹏飞宇"


def _unit(seed: str) -> float:
    return int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _point_near(centre: tuple[float, float], seed: str, radius_km: float) -> Location:
    angle = 2 * math.pi * _unit(seed + "/a")
    distance = radius_km * math.sqrt(_unit(seed + "/r"))
    dlat = distance / 111.0 * math.cos(angle)
    dlng = distance / (111.0 * math.cos(math.radians(centre[0]))) * math.sin(angle)
    return Location(lat=centre[0] + dlat, lng=centre[1] + dlng, coord_system=CoordSystem.WGS84)


def _name(i: int) -> str:
    return (
        SURNAMES[i * 7 % len(SURNAMES)]
        + GIVEN[i * 13 % len(GIVEN)]
        + (GIVEN[i * 5 % len(GIVEN)] if i % 3 else "")
    )


def synthetic_id_number(i: int) -> str:
    """A well-formed, invented ID number (valid date and check digit) for demo and test data."""
    first17 = f"140802{1960 + i % 50:04d}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
    return first17 + id_check_char(first17)


@dataclass
class DemoLoader:
    session: Session
    codec: SensitiveCodec
    password_hash: str
    counter: int = 0

    def user(self, username: str | None, display_name: str, region: str | None) -> User:
        self.counter += 1
        phone = f"1380354{self.counter:04d}"
        user = User(
            username=username,
            password_hash=self.password_hash if username else None,
            display_name=display_name,
            home_region_code=region,
            **phone_fields(self.codec, phone),
        )
        self.session.add(user)
        return user

    def volunteer(
        self,
        user: User,
        name: str,
        region: str,
        skills: list[str],
        status: VolunteerStatus = VolunteerStatus.APPROVED,
    ) -> Volunteer:
        self.counter += 1
        phone = f"1390354{self.counter:04d}"
        id_number = synthetic_id_number(self.counter)
        volunteer = Volunteer(
            user_id=user.id,
            real_name=name,
            phone_cipher=self.codec.encrypt(phone, context=PHONE_CONTEXT),
            phone_hash=self.codec.lookup_hash(phone, context=PHONE_CONTEXT),
            phone_masked=mask_phone(phone),
            id_number_cipher=self.codec.encrypt(id_number, context=ID_CONTEXT),
            id_number_hash=self.codec.lookup_hash(id_number, context=ID_CONTEXT),
            id_number_masked=mask_id_number(id_number),
            region_code=region,
            skills=skills,
            status=status.value,
        )
        self.session.add(volunteer)
        return volunteer

    def team(
        self,
        name: str,
        site: Site,
        centre: tuple[float, float],
        specialties: list[str],
        brand: str | None = None,
        capacity: int = 3,
        radius: float | None = None,
    ) -> Team:
        team = Team(
            name=name,
            site_id=site.id,
            region_code=site.region_code,
            brand=brand,
            description=f"{name}(演示数据 / demo data)",
            capacity=capacity,
            service_radius_km=radius,
            founded_on=date(2019 + int(_unit(name) * 5), 1 + int(_unit(name + "m") * 12), 1),
            **location_columns(_point_near(centre, name, 1.0)),
        )
        self.session.add(team)
        self.session.flush()
        for code in specialties:
            self.session.add(TeamSpecialty(team_id=team.id, category_code=code))
        return team

    def staff_team(
        self, team: Team, region: str, leader: Volunteer | None = None, members: int = 2
    ) -> None:
        if leader is None:
            user = self.user(None, _name(self.counter), region)
            leader = self.volunteer(user, user.display_name, region, [])
            self.session.flush()
        self.session.add(
            TeamMember(team_id=team.id, volunteer_id=leader.id, role=MemberRole.LEADER.value)
        )
        for _ in range(members):
            user = self.user(None, _name(self.counter), region)
            member = self.volunteer(user, user.display_name, region, [])
            self.session.flush()
            self.session.add(TeamMember(team_id=team.id, volunteer_id=member.id))


def load_demo(session: Session, codec: SensitiveCodec) -> bool:
    """Load the demo into an empty database. Returns False (and does nothing) otherwise."""
    if session.exec(select(User.id).limit(1)).first() is not None:
        return False
    load_regions(session, DEMO_COUNTY_FILE)
    loader = DemoLoader(session=session, codec=codec, password_hash=hash_password(DEMO_PASSWORD))
    regions = session.exec(
        select(Region).where(col(Region.code).between("140802000000", "140802999999"))
    ).all()
    townships = [r for r in regions if r.level == 4]
    villages = [r for r in regions if r.level == 5]

    centre_points: dict[str, tuple[float, float]] = {COUNTY_CODE: DISTRICT_CENTRE}
    sites: dict[str, Site] = {}

    def open_site(region: Region, level: SiteLevel, name: str, point: Location) -> Site:
        site = Site(
            name=name,
            level=level.value,
            region_code=region.code,
            address=f"山西省运城市盐湖区{region.name if region.code != COUNTY_CODE else ''}",
            **location_columns(point),
        )
        session.add(site)
        sites[region.code] = site
        centre_points[region.code] = (point.lat, point.lng)
        return site

    county = next(r for r in regions if r.code == COUNTY_CODE)
    open_site(
        county,
        SiteLevel.CENTER,
        "盐湖区新时代文明实践中心",
        Location(lat=DISTRICT_CENTRE[0], lng=DISTRICT_CENTRE[1]),
    )
    for township in townships:
        point = _point_near(DISTRICT_CENTRE, township.code, 15.0)
        open_site(township, SiteLevel.INSTITUTE, f"{township.name}新时代文明实践所", point)
    for village in villages:
        parent = village.parent_code or COUNTY_CODE
        point = _point_near(centre_points[parent], village.code, 3.0)
        short = village.name.removesuffix("村委会").removesuffix("居委会")
        open_site(village, SiteLevel.STATION, f"{short}新时代文明实践站", point)
    session.flush()

    # The demo accounts named in the README.
    admin = loader.user("admin", "平台管理员", COUNTY_CODE)
    center = loader.user("center", "中心管理员", COUNTY_CODE)
    institute = loader.user("institute", "解州镇实践所管理员", INSTITUTE_TOWNSHIP)
    station = loader.user("station", "曲村实践站管理员", STATION_VILLAGE)
    leader_user = loader.user("leader", "王建国", STATION_VILLAGE)
    volunteer_user = loader.user("volunteer", "李秀兰", STATION_VILLAGE)
    loader.user("resident", "张大爷", STATION_VILLAGE)
    session.flush()
    grants = [
        (admin, GrantedRole.PLATFORM_ADMIN, None),
        (center, GrantedRole.SITE_ADMIN, sites[COUNTY_CODE].id),
        (institute, GrantedRole.SITE_ADMIN, sites[INSTITUTE_TOWNSHIP].id),
        (station, GrantedRole.SITE_ADMIN, sites[STATION_VILLAGE].id),
    ]
    for user, role, site_id in grants:
        session.add(RoleGrant(user_id=user.id, role=role.value, site_id=site_id))
    leader = loader.volunteer(leader_user, "王建国", STATION_VILLAGE, ["care", "digital_elderly"])
    member = loader.volunteer(
        volunteer_user, "李秀兰", STATION_VILLAGE, ["care", "health_education"]
    )
    session.flush()

    # Teams at every level: the centre's colour brands, two per institute, one per station.
    for brand, specialties in BRAND_TEAMS:
        team = loader.team(
            f"盐湖区{brand}志愿服务队",
            sites[COUNTY_CODE],
            DISTRICT_CENTRE,
            specialties,
            brand=brand,
            capacity=8,
        )
        loader.staff_team(team, COUNTY_CODE, members=4)
    for i, township in enumerate(townships):
        for j, suffix in enumerate(("综合志愿服务队", "关爱志愿服务队")):
            specialties = ROTATING_SPECIALTIES[(i + j) % len(ROTATING_SPECIALTIES)]
            if j == 1:
                specialties = sorted({"care", *specialties})
            team = loader.team(
                f"{township.name}{suffix}",
                sites[township.code],
                centre_points[township.code],
                specialties,
                capacity=5,
                radius=20.0,
            )
            loader.staff_team(team, township.code, members=2)
    for i, village in enumerate(villages):
        short = village.name.removesuffix("村委会").removesuffix("居委会")
        specialties = ROTATING_SPECIALTIES[i % len(ROTATING_SPECIALTIES)]
        team = loader.team(
            f"{short}志愿服务队",
            sites[village.code],
            centre_points[village.code],
            sorted({"care", *specialties}),
            capacity=2,
            radius=5.0,
        )
        if village.code == STATION_VILLAGE:
            session.add(
                TeamMember(team_id=team.id, volunteer_id=leader.id, role=MemberRole.LEADER.value)
            )
            session.add(TeamMember(team_id=team.id, volunteer_id=member.id))
        else:
            loader.staff_team(team, village.code, members=1)
    # Applications waiting for the station admin's review.
    for _ in range(3):
        user = loader.user(None, _name(loader.counter), STATION_VILLAGE)
        loader.volunteer(
            user, user.display_name, STATION_VILLAGE, ["care"], VolunteerStatus.PENDING
        )
    session.flush()
    return True


def main() -> None:
    from app.config import get_settings
    from app.db import make_engine, make_sessionmaker, open_session

    settings = get_settings()
    if settings.is_production:
        sys.exit("refusing to load demo data in production (set DIANDAN_ENV=development)")
    engine = make_engine(settings)
    with open_session(make_sessionmaker(engine), write=True) as session:
        loaded = load_demo(session, SensitiveCodec(settings.data_key_value))
        session.commit()
    print("demo data loaded" if loaded else "database not empty: demo data left as it is")


if __name__ == "__main__":
    main()
