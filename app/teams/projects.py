"""Service projects (服务项目): the menu residents order from."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlmodel import Session, col, select

from app.auth.deps import CurrentPrincipal
from app.auth.principal import Principal
from app.common.clock import utcnow
from app.common.pagination import Page, PageQuery, paginate
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES, Forbidden, Invalid, NotFound
from app.regions.codes import ancestors
from app.regions.queries import check_code
from app.regions.scope import RegionScope
from app.teams.models import ServiceProject, Team, TeamSpecialty, TeamStatus
from app.teams.schemas import ProjectCreate, ProjectOut, ProjectUpdate
from app.teams.service import get_team

router = APIRouter(tags=["teams"], responses=PROBLEM_RESPONSES)


def _require_team_manager(actor: Principal, team: Team) -> None:
    if team.id not in actor.led_team_ids and not actor.admin_scope.covers(team.region_code):
        raise Forbidden(
            "只有队长或辖区管理员可以管理服务项目 / only the leader or a site admin can",
            code="not_team_manager",
        )


def projects_out(session: Session, projects: Sequence[ServiceProject]) -> list[ProjectOut]:
    team_ids = {p.team_id for p in projects}
    teams = (
        {t.id: t for t in session.exec(select(Team).where(col(Team.id).in_(team_ids)))}
        if team_ids
        else {}
    )
    return [
        ProjectOut(
            id=p.id,
            team_id=p.team_id,
            team_name=teams[p.team_id].name,
            region_code=teams[p.team_id].region_code,
            category_code=p.category_code,
            title=p.title,
            description=p.description,
            active=p.active,
            created_at=p.created_at,
        )
        for p in projects
    ]


def get_project(session: Session, project_id: uuid.UUID) -> ServiceProject:
    project = session.get(ServiceProject, project_id)
    if project is None:
        raise NotFound("未找到该服务项目 / no such service project", code="project_not_found")
    return project


@router.post(
    "/teams/{team_id}/projects", response_model=ProjectOut, status_code=status.HTTP_201_CREATED
)
def publish_project(
    team_id: uuid.UUID, body: ProjectCreate, session: DbSession, caller: CurrentPrincipal
) -> ProjectOut:
    """Publish a service on the menu; its category must be one of the team's specialties."""
    team = get_team(session, team_id)
    _require_team_manager(caller, team)
    offers = session.exec(
        select(TeamSpecialty.team_id).where(
            TeamSpecialty.team_id == team.id, TeamSpecialty.category_code == body.category_code
        )
    ).first()
    if offers is None:
        raise Invalid(
            "服务类别须为本队专长 / the category must be one of the team's specialties",
            code="not_a_specialty",
        )
    project = ServiceProject(team_id=team.id, **body.model_dump())
    session.add(project)
    session.commit()
    return projects_out(session, [project])[0]


@router.patch("/projects/{project_id}", response_model=ProjectOut)
def update_project(
    project_id: uuid.UUID, body: ProjectUpdate, session: DbSession, caller: CurrentPrincipal
) -> ProjectOut:
    project = get_project(session, project_id)
    _require_team_manager(caller, get_team(session, project.team_id))
    changes = body.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        raise Invalid("字段不能为空 / fields cannot be null", code="null_field")
    project.sqlmodel_update(changes)
    project.updated_at = utcnow()
    session.commit()
    return projects_out(session, [project])[0]


@router.get("/projects", response_model=Page[ProjectOut])
def list_projects(
    session: DbSession,
    _caller: CurrentPrincipal,
    page: PageQuery,
    serving: Annotated[
        str | None,
        Query(description="The menu for this village: projects of teams at it or above it"),
    ] = None,
    region: Annotated[str | None, Query(description="Projects of teams in this subtree")] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[ProjectOut]:
    """The service menu (服务菜单): active projects of active teams."""
    stmt = (
        select(ServiceProject)
        .join(Team, col(Team.id) == col(ServiceProject.team_id))
        .where(col(ServiceProject.active), Team.status == TeamStatus.ACTIVE.value)
    )
    if serving is not None:
        code = check_code(serving)
        stmt = stmt.where(col(Team.region_code).in_([code, *ancestors(code)]))
    if region is not None:
        stmt = stmt.where(RegionScope.of([check_code(region)]).filter(col(Team.region_code)))
    if category is not None:
        stmt = stmt.where(ServiceProject.category_code == category)
    rows, cursor = paginate(
        session, stmt, key=col(ServiceProject.id), params=page, parse_key=uuid.UUID
    )
    return Page(items=projects_out(session, rows), next_cursor=cursor)
