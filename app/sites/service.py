from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlmodel import Session, select

from app.accounts.models import GrantedRole, RoleGrant, User
from app.accounts.service import grant_role
from app.auth.principal import Principal
from app.common.location import location_columns
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.regions.codes import RegionLevel
from app.regions.queries import get_region
from app.sites.models import Site, SiteLevel
from app.sites.schemas import SiteCreate, SiteUpdate

SITE_LEVEL_FOR_REGION = {
    RegionLevel.PROVINCE: SiteLevel.CENTER,
    RegionLevel.CITY: SiteLevel.CENTER,
    RegionLevel.COUNTY: SiteLevel.CENTER,
    RegionLevel.TOWNSHIP: SiteLevel.INSTITUTE,
    RegionLevel.VILLAGE: SiteLevel.STATION,
}


def get_site(session: Session, site_id: uuid.UUID) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound("未找到该实践站点 / no such site", code="site_not_found")
    return site


def require_site_admin_over(principal: Principal, region_code: str) -> None:
    if not principal.admin_scope.covers(region_code):
        raise Forbidden(
            "只能管理本辖区 / you can only manage sites and teams in your own region",
            code="outside_scope",
        )


def create_site(*, session: Session, actor: Principal, data: SiteCreate) -> Site:
    region = get_region(session, data.region_code)
    require_site_admin_over(actor, region.code)
    if session.exec(select(Site.id).where(Site.region_code == region.code)).first():
        raise Conflict("该区划已有实践站点 / that region already has a site", code="site_exists")
    site = Site(
        name=data.name,
        level=SITE_LEVEL_FOR_REGION[RegionLevel(region.level)].value,
        region_code=region.code,
        address=data.address,
        **location_columns(data.location),
    )
    session.add(site)
    session.flush()
    return site


def update_site(*, session: Session, actor: Principal, site: Site, data: SiteUpdate) -> Site:
    require_site_admin_over(actor, site.region_code)
    changes = data.model_dump(exclude_unset=True, exclude={"location"})
    if any(value is None for value in changes.values()):
        raise Invalid("名称和地址不能为空 / name and address cannot be null", code="null_field")
    site.sqlmodel_update(changes)
    if "location" in data.model_fields_set:
        site.sqlmodel_update(location_columns(data.location))
    session.flush()
    return site


def add_site_admin(*, session: Session, actor: Principal, site: Site, user_id: uuid.UUID) -> User:
    require_site_admin_over(actor, site.region_code)
    user = session.get(User, user_id)
    # Site admins appoint people of their own region; platform admins anyone.
    if user is None or not (
        actor.platform_admin or actor.admin_scope.covers(user.home_region_code)
    ):
        raise NotFound("未找到该用户 / no such user", code="user_not_found")
    grant_role(
        session=session,
        user=user,
        role=GrantedRole.SITE_ADMIN,
        site_id=site.id,
        granted_by_id=actor.id,
    )
    return user


def remove_site_admin(
    *, session: Session, actor: Principal, site: Site, user_id: uuid.UUID
) -> None:
    require_site_admin_over(actor, site.region_code)
    result = session.execute(
        delete(RoleGrant).where(
            RoleGrant.user_id == user_id,  # type: ignore[arg-type]
            RoleGrant.site_id == site.id,  # type: ignore[arg-type]
            RoleGrant.role == GrantedRole.SITE_ADMIN.value,  # type: ignore[arg-type]
        )
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("该用户不是本站点管理员 / that user is not an admin here", code="not_admin")
