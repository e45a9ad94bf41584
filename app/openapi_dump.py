"""Print the OpenAPI document: `python -m app.openapi_dump > openapi/openapi.json`."""

from __future__ import annotations

import json
import sys

from app.config import Environment, Settings
from app.main import create_app


def render() -> str:
    settings = Settings(env=Environment.DEVELOPMENT, database_url="sqlite://")
    spec = create_app(settings).openapi()
    return json.dumps(spec, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
