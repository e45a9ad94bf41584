"""The real app served by uvicorn on 127.0.0.1 (a free port, a thread of the test's own) over a
migrated database of its own, on SQLite and on PostgreSQL; scripts and the client talk to it
over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from app.config import Settings
from app.db import make_engine
from app.main import create_app
from tests.conftest import (
    create_postgres_database,
    drop_postgres_database,
    migrate,
    offline_http_client,
    settings_for,
)


@dataclass
class Live:
    base_url: str
    settings: Settings
    engine: Engine  # the test's own connection to the app's database (seed, inspect)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'live.db'}"
    else:
        url = create_postgres_database()
    settings = settings_for(url)
    engine = make_engine(settings)
    migrate(engine)
    app = create_app(settings, http_client=offline_http_client())
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail("uvicorn did not start")
            time.sleep(0.02)
        assert httpx.get(f"{base}/healthz").status_code == 200
        yield Live(base, settings, engine)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()
        engine.dispose()
        if request.param == "postgresql":
            drop_postgres_database(url)
