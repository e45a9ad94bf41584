"""The benchmark's lean load generator against a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from bench.loadgen import Request, run_load


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/things", status_code=201)
    def create(body: dict[str, Any]) -> dict[str, int]:
        received.append(body)
        return {"n": len(received)}

    @app.get("/things/{n}")
    def read(n: int) -> dict[str, str]:
        return {"name": "张" * n}

    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if uv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", received
    uv.should_exit = True
    thread.join(timeout=10)


def test_posts_arrive_whole_and_answers_are_counted(
    server: tuple[str, list[dict[str, Any]]],
) -> None:
    base, received = server

    def request(i: int) -> Request:
        return "/things", {"i": i, "title": "帮独居老人买药"}

    tally, elapsed = asyncio.run(run_load(base, request, {"X-Test": "1"}, clients=3, seconds=0.5))
    assert tally.errors == 0
    assert len(tally.latencies) == len(received) > 0
    assert {b["title"] for b in received} == {"帮独居老人买药"}
    assert sorted(b["i"] for b in received) == list(range(len(received)))
    assert elapsed >= 0.5


def test_reads_of_any_length_and_unexpected_statuses(
    server: tuple[str, list[dict[str, Any]]],
) -> None:
    base, _ = server

    def request(i: int) -> Request:
        # Every fourth path is not a number: FastAPI answers 422, which counts as an error.
        return (f"/things/{i % 50}" if i % 4 else "/things/x"), None

    tally, _ = asyncio.run(run_load(base, request, {}, clients=2, seconds=0.3))
    total = len(tally.latencies)
    assert total > 8
    assert tally.errors == pytest.approx(total / 4, abs=2)
