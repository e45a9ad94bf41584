"""The baseline's table: one row per bare insert."""

from __future__ import annotations

import uuid

from sqlmodel import Field as Column
from sqlmodel import SQLModel

from app.common.ids import new_id


class BenchRow(SQLModel, table=True):
    __tablename__ = "bench_row"

    id: uuid.UUID = Column(default_factory=new_id, primary_key=True)
    title: str = Column(max_length=100)
    region_code: str = Column(max_length=12)
    lat: float
    lng: float
