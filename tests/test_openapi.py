from __future__ import annotations

import json
from pathlib import Path

from app.openapi_dump import render

SPEC = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def test_committed_openapi_is_current() -> None:
    assert SPEC.read_text(encoding="utf-8") == render(), "openapi.json is stale: run `make openapi`"


def test_operation_ids_are_unique_and_tagged() -> None:
    spec = json.loads(render())
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert all("-" in op_id for op_id in ids)


def test_errors_are_documented_as_problem_details() -> None:
    spec = json.loads(render())
    create_team = spec["paths"]["/api/v1/teams"]["post"]["responses"]
    assert "application/problem+json" in create_team["404"]["content"]
