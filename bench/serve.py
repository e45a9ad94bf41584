"""What the HTTP benchmark serves: the product app, plus the bare-insert baseline endpoint.

The baseline lives here, in the harness, never in the product: it validates a body and inserts
one row through SQLModel, on the same engine and session dependency, served by the same uvicorn.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.db import DbSession
from app.main import create_app
from bench.bare_model import BenchRow


class BareIn(BaseModel):
    title: str = Field(min_length=2, max_length=100)
    region_code: str = Field(pattern=r"^\d{12}$")
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


app = create_app()


@app.post("/bench/bare", status_code=201)
def bare_insert(body: BareIn, session: DbSession) -> dict[str, str]:
    row = BenchRow.model_validate(body)
    session.add(row)
    session.commit()
    return {"id": str(row.id)}
