from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.apikeys.models import ApiScope
from app.auth.deps import integration_caller
from app.auth.principal import Principal
from app.db import DbSession, open_session
from app.errors import PROBLEM_RESPONSES, Invalid
from app.regions.queries import check_code
from app.sync.feed import read_changes, sequence_pending
from app.sync.models import ENTITIES
from app.sync.schemas import ChangeOut, ChangePage

router = APIRouter(prefix="/sync", tags=["sync"], responses=PROBLEM_RESPONSES)
FeedReader = Annotated[Principal, Depends(integration_caller(ApiScope.CHANGES_READ))]


def _cursor(value: str | None) -> int:
    if value is None or value == "":
        return 0
    if not value.isdigit() or len(value) > 18:
        raise Invalid(
            "无效的游标 / cursor must be a feed position from next_cursor", code="bad_cursor"
        )
    return int(value)


@router.get("/changes", response_model=ChangePage)
def list_changes(
    request: Request,
    session: DbSession,
    caller: FeedReader,
    cursor: Annotated[str | None, Query(max_length=18, description="From `next_cursor`")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    entity: Annotated[
        list[str] | None, Query(description=f"Only these: {', '.join(ENTITIES)}")
    ] = None,
    region: Annotated[str | None, Query(description="Only this region's subtree")] = None,
) -> ChangePage:
    """Every create, update and delete of volunteers, teams, memberships, service records,
    orders and activities, in commit order. Start without a cursor; keep `next_cursor` and pass
    it back to resume: no change is skipped or repeated. Payloads are thin (what changed,
    where); fetch the rows through the API. Site admins see the changes of their region; API
    keys need `changes:read` and see their region's."""
    after = _cursor(cursor)
    if entity and not set(entity) <= set(ENTITIES):
        raise Invalid(f"未知的类型 / entity must be among {', '.join(ENTITIES)}", code="bad_entity")
    scope = caller.admin_scope
    if region is not None:
        scope = scope.narrowed_to(check_code(region))
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with open_session(factory, write=True) as writer:
        sequence_pending(writer)
        writer.commit()
    rows = read_changes(session, after=after, limit=limit + 1, scope=scope, entities=entity)
    items = [ChangeOut.model_validate(row, from_attributes=True) for row in rows[:limit]]
    return ChangePage(
        items=items,
        next_cursor=str(items[-1].seq if items else after),
        has_more=len(rows) > limit,
    )
