from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlmodel import col, select

from app.accounts.models import GrantedRole, RoleGrant, User
from app.auth.deps import AnyAdmin, CurrentPrincipal
from app.common.pagination import Page, PageQuery, paginate
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES
from app.regions.queries import check_code
from app.regions.scope import RegionScope
from app.sites import service
from app.sites.models import Site, SiteLevel
from app.sites.queries import sites_out
from app.sites.schemas import SiteAdminAdd, SiteAdminOut, SiteCreate, SiteOut, SiteUpdate

router = APIRouter(prefix="/sites", tags=["sites"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=Page[SiteOut])
def list_sites(
    session: DbSession,
    _caller: CurrentPrincipal,
    page: PageQuery,
    region: Annotated[str | None, Query(description="Only sites in this region's subtree")] = None,
    level: SiteLevel | None = None,
) -> Page[SiteOut]:
    """The directory of practice sites. Their names and places are public to signed-in users."""
    stmt = select(Site)
    if region is not None:
        stmt = stmt.where(RegionScope.of([check_code(region)]).filter(col(Site.region_code)))
    if level is not None:
        stmt = stmt.where(Site.level == level.value)
    rows, cursor = paginate(session, stmt, key=col(Site.id), params=page, parse_key=uuid.UUID)
    return Page(items=sites_out(session, rows), next_cursor=cursor)


@router.post("", response_model=SiteOut, status_code=status.HTTP_201_CREATED)
def create_site(body: SiteCreate, session: DbSession, admin: AnyAdmin) -> SiteOut:
    """Open a site on a region inside the caller's own region subtree."""
    site = service.create_site(session=session, actor=admin, data=body)
    session.commit()
    return sites_out(session, [site])[0]


@router.get("/{site_id}", response_model=SiteOut)
def read_site(site_id: uuid.UUID, session: DbSession, _caller: CurrentPrincipal) -> SiteOut:
    return sites_out(session, [service.get_site(session, site_id)])[0]


@router.patch("/{site_id}", response_model=SiteOut)
def update_site(
    site_id: uuid.UUID, body: SiteUpdate, session: DbSession, admin: AnyAdmin
) -> SiteOut:
    site = service.update_site(
        session=session, actor=admin, site=service.get_site(session, site_id), data=body
    )
    session.commit()
    return sites_out(session, [site])[0]


@router.get("/{site_id}/admins", response_model=list[SiteAdminOut])
def list_site_admins(site_id: uuid.UUID, session: DbSession, admin: AnyAdmin) -> list[SiteAdminOut]:
    site = service.get_site(session, site_id)
    service.require_site_admin_over(admin, site.region_code)
    users = session.exec(
        select(User)
        .join(RoleGrant, col(RoleGrant.user_id) == col(User.id))
        .where(RoleGrant.site_id == site.id, RoleGrant.role == GrantedRole.SITE_ADMIN.value)
        .order_by(col(User.display_name))
    ).all()
    return [
        SiteAdminOut(user_id=u.id, display_name=u.display_name, username=u.username) for u in users
    ]


@router.post("/{site_id}/admins", response_model=SiteAdminOut, status_code=status.HTTP_201_CREATED)
def add_site_admin(
    site_id: uuid.UUID, body: SiteAdminAdd, session: DbSession, admin: AnyAdmin
) -> SiteAdminOut:
    """Make a user an admin of this site (and so of its region subtree)."""
    site = service.get_site(session, site_id)
    user = service.add_site_admin(session=session, actor=admin, site=site, user_id=body.user_id)
    session.commit()
    return SiteAdminOut(user_id=user.id, display_name=user.display_name, username=user.username)


@router.delete("/{site_id}/admins/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_site_admin(
    site_id: uuid.UUID, user_id: uuid.UUID, session: DbSession, admin: AnyAdmin
) -> None:
    site = service.get_site(session, site_id)
    service.remove_site_admin(session=session, actor=admin, site=site, user_id=user_id)
    session.commit()
