"""A lean HTTP/1.1 load generator: keep-alive connections on asyncio streams, requests encoded by
hand, responses read by Content-Length.

The load generator shares this machine's two cores with the server it measures. httpx's client
spends about a millisecond of CPU per request on building and parsing models, which the server
then does not get; this one spends a small fraction of that, so the figures describe the server.
It speaks only what the harness needs: GET and POST with a JSON body, and answers that carry a
Content-Length (every endpoint measured here does).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

Request = tuple[str, dict[str, Any] | None]  # path, and a body to POST (None: a GET)


def encode(host: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> bytes:
    lines = [f"{'GET' if body is None else 'POST'} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    payload = b""
    if body is not None:
        payload = json.dumps(body, ensure_ascii=False).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, rest = head.partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length = None
    for line in rest.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise RuntimeError("the load generator reads only answers with a Content-Length")
    return status, await reader.readexactly(length)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


async def _client(
    base: str,
    make_request: Callable[[int], Request],
    headers: dict[str, str],
    counter: Any,
    deadline: float,
    tally: Tally,
) -> None:
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            path, body = make_request(next(counter))
            message = encode(f"{host}:{port}", path, body, headers)
            started = time.perf_counter()
            writer.write(message)
            status, content = await read_response(reader)
            tally.latencies.append((time.perf_counter() - started) * 1000)
            if status != (200 if body is None else 201):
                tally.errors += 1
                if tally.errors < 3:
                    print("  unexpected", status, content[:300].decode(errors="replace"))
    finally:
        writer.close()


async def run_load(
    base: str,
    make_request: Callable[[int], Request],
    headers: dict[str, str],
    clients: int,
    seconds: float,
) -> tuple[Tally, float]:
    """`clients` connections, each sending its next request as soon as the last is answered."""
    tally = Tally()
    counter = iter(range(10**9))
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_client(base, make_request, headers, counter, deadline, tally) for _ in range(clients))
    )
    return tally, time.perf_counter() - started
