from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ChangeOut(BaseModel):
    seq: int = Field(description="Feed position; resume with `cursor` = the last one you kept")
    entity: str = Field(description="volunteer, team, team_member, service_record, order, …")
    entity_id: str
    op: str = Field(description="create, update or delete")
    region_code: str | None
    fields: list[str] = Field(description="What changed on an update; fetch the row for values")
    changed_at: datetime


class ChangePage(BaseModel):
    items: list[ChangeOut]
    next_cursor: str = Field(description="Pass as `cursor` next time, also when `items` is empty")
    has_more: bool
