"""`make bench`: every figure is measured in one run, next to its baseline. Results go to stdout
and to bench-results/latest.json.

    python -m bench.run [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from scipy.optimize import linear_sum_assignment
from sqlalchemy import Engine, insert

from app.accounts.models import User
from app.auth.principal import load_principal
from app.auth.security import issue_access_token
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.common.heap import freeze_startup_heap
from app.common.ids import new_id
from app.config import Environment, Settings
from app.db import make_engine, make_sessionmaker, open_session
from app.dispatch.batch import Strategy, assign_batch, plan
from app.dispatch.service import ranked_candidates
from app.orders.models import Order
from bench.dataset import CATEGORIES, Dataset, build, make_category_self_serve, random_order_point
from bench.loadgen import Request, run_load
from tests.conftest import create_postgres_database, drop_postgres_database, migrate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def settings_for(url: str) -> Settings:
    return Settings(env=Environment.TEST, database_url=url, embedded_worker=False)


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[tuple[str, Engine]]:
    if kind == "sqlite":
        path = tmp / f"bench-{uuid.uuid4().hex[:6]}.db"
        url = f"sqlite:///{path}"
    else:
        os.environ.setdefault("DIANDAN_REQUIRE_POSTGRES", "1")
        url = create_postgres_database()
    engine = make_engine(settings_for(url))
    try:
        migrate(engine)
        yield url, engine
    finally:
        engine.dispose()
        if kind == "postgresql":
            drop_postgres_database(url)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)


def _transient_order(rng: random.Random, data: Dataset) -> Order:
    code, lat, lng = random_order_point(rng, data)
    category = "care" if rng.random() < 0.5 else rng.choice(CATEGORIES)
    return Order(
        id=new_id(),
        region_code=code,
        wgs_lat=lat,
        wgs_lng=lng,
        category_code=category,
        requester_id=new_id(),
        title="x",
        review_site_id=new_id(),
        contact_name="x",
        contact_phone_cipher=b"",
        contact_phone_masked="",
        channel="app",
        status="unassigned",
    )


def bench_ranking(kind: str, counties: int, samples: int, tmp: Path) -> dict[str, Any]:
    with database(kind, tmp) as (_, engine):
        data = build(engine, counties=counties)
        factory = make_sessionmaker(engine)
        rng = random.Random(1)
        timings: list[float] = []
        candidates: list[int] = []
        with open_session(factory, write=False) as session:
            for i in range(samples + 50):
                order = _transient_order(rng, data)
                started = time.perf_counter()
                ranked = ranked_candidates(session, order)
                elapsed = (time.perf_counter() - started) * 1000
                if i >= 50:  # warm-up
                    timings.append(elapsed)
                    candidates.append(len(ranked))
        return {
            "backend": kind,
            "teams": data.team_count,
            "p50_ms": round(pct(timings, 0.5), 3),
            "p99_ms": round(pct(timings, 0.99), 3),
            "mean_candidates": round(statistics.mean(candidates), 1),
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(url: str, workers: int) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DIANDAN_ENV": "test",
        "DIANDAN_EMBEDDED_WORKER": "false",
    }
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/uvicorn"),
            "bench.serve:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# "lean" (bench/loadgen.py) leaves the server the CPU that httpx's client would take; "httpx"
# is the earlier generator, kept to compare the two (`--client httpx`).
LOAD_CLIENT = {"kind": "lean"}


async def _load(
    base: str,
    make_request: Callable[[int], Request],
    headers: dict[str, str],
    clients: int,
    seconds: float,
) -> dict[str, Any]:
    if LOAD_CLIENT["kind"] == "lean":
        tally, elapsed = await run_load(base, make_request, headers, clients, seconds)
        latencies, errors = tally.latencies, tally.errors
    else:
        latencies, errors, elapsed = await _load_httpx(
            base, make_request, headers, clients, seconds
        )
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(pct(latencies, 0.5), 2),
        "p99_ms": round(pct(latencies, 0.99), 2),
    }


ROUNDS = 3
REPEATS = 3  # the batch plan and its end-to-end run: the median of this many


def checkpointer(engine: Engine) -> Callable[[], None]:
    """Before each round on PostgreSQL: write out what earlier rounds left dirty in the buffer
    pool. Otherwise a round pays for its predecessor's writes (the checkpointer and the
    backends evicting dirty pages): one run's bare insert gave 955 req/s in its first round
    and 523 after each record round."""

    def settle() -> None:
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("CHECKPOINT")

    return settle


def alternated(
    base: str,
    phases: dict[str, Callable[[int], Request]],
    headers: dict[str, str],
    clients: int,
    seconds: float,
    rounds: int = ROUNDS,
    settle: Callable[[], None] = lambda: None,
) -> dict[str, dict[str, Any]]:
    """Each phase `rounds` times, taking turns (baseline, product, baseline, product, ...), so
    that a drift of the shared machine falls on both alike; each round starts after `settle`.
    Each phase's figures are those of its median round by throughput, with every round's
    throughput beside them."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in phases}
    for _ in range(rounds):
        for name, make_request in phases.items():
            settle()
            asyncio.run(_load(base, make_request, headers, clients, 1.0))  # warm the caches
            runs[name].append(asyncio.run(_load(base, make_request, headers, clients, seconds)))
    chosen = {}
    for name, results in runs.items():
        ordered = sorted(results, key=lambda r: r["rps"])
        chosen[name] = {**ordered[len(ordered) // 2], "rounds_rps": [r["rps"] for r in results]}
    return chosen


async def _load_httpx(
    base: str,
    make_request: Callable[[int], Request],
    headers: dict[str, str],
    clients: int,
    seconds: float,
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def one_client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            path, body = make_request(next(counter))
            started = time.perf_counter()
            if body is None:  # a read
                response = await http.get(path, headers=headers)
            else:
                response = await http.post(path, json=body, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != (200 if body is None else 201):
                errors += 1
                if errors < 3:
                    print(
                        "  unexpected", response.status_code, response.text[:300], file=sys.stderr
                    )

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        started = time.perf_counter()
        await asyncio.gather(*(one_client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def bare_requests(rng: random.Random, data: Dataset) -> Callable[[int], Request]:
    """The baseline's requests: validate a body and insert one row."""

    def bare(_: int) -> Request:
        code, lat, lng = random_order_point(rng, data)
        body = {"title": "帮独居老人买药", "region_code": code, "lat": lat, "lng": lng}
        return "/bench/bare", body

    return bare


def bench_http(
    kind: str, counties: int, seconds: float, clients: int, workers: int, tmp: Path
) -> dict[str, Any]:
    from bench.bare_model import BenchRow

    with database(kind, tmp) as (url, engine):
        data = build(engine, counties=counties)
        make_category_self_serve(engine)
        BenchRow.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
        settings = settings_for(url)
        codec = SensitiveCodec(settings.data_key_value)
        user_id = new_id()
        with engine.begin() as conn:
            conn.execute(
                insert(User),
                [
                    {
                        "id": user_id,
                        "display_name": "压测居民",
                        "is_active": True,
                        "created_at": utcnow(),
                        "phone_cipher": codec.encrypt("13900000001", context="phone"),
                        "phone_hash": codec.lookup_hash("13900000001", context="phone"),
                        "phone_masked": "139****0001",
                    }
                ],
            )
        token, _ = issue_access_token(user_id, settings)
        headers = {"Authorization": f"Bearer {token}"}
        rng = random.Random(3)

        bare = bare_requests(rng, data)

        def place(_: int) -> Request:
            code, lat, lng = random_order_point(rng, data)
            return "/api/v1/orders", {
                "category_code": "care",
                "title": "帮独居老人买药",
                "region_code": code,
                "location": {"lat": lat, "lng": lng, "coord_system": "wgs84"},
                "contact_name": "张大爷",
            }

        with serve(url, workers) as base:
            asyncio.run(_load(base, bare, headers, clients, 2.0))  # warm-up
            asyncio.run(_load(base, place, headers, clients, 2.0))
            measured = alternated(
                base,
                {"bare": bare, "place": place},
                headers,
                clients,
                seconds,
                settle=checkpointer(engine),
            )
            baseline, product = measured["bare"], measured["place"]
        with open_session(make_sessionmaker(engine), write=False) as session:
            from sqlmodel import func, select

            dispatched = session.exec(
                select(func.count()).select_from(Order).where(Order.status == "dispatching")
            ).one()
        return {
            "backend": kind,
            "teams": data.team_count,
            "clients": clients,
            "workers": workers,
            "bare_insert": baseline,
            "place_and_dispatch": product,
            "orders_dispatched": dispatched,
            "throughput_ratio": round(product["rps"] / baseline["rps"], 3),
            "p99_ratio": round(product["p99_ms"] / baseline["p99_ms"], 3),
        }


def bench_batch(
    kind: str, counties: int, orders: int, tmp: Path, *, one_county: bool = False
) -> dict[str, Any]:
    """`one_county`: a campaign day, every order in one county, where capacity binds."""
    with database(kind, tmp) as (url, engine):
        data = build(engine, counties=counties)
        settings = settings_for(url)
        rng = random.Random(5)
        admin_id = new_id()
        now = utcnow()
        rows = []
        site_by_region = {}
        from sqlmodel import select

        from app.sites.models import Site

        factory = make_sessionmaker(engine)
        with open_session(factory, write=False) as s:
            site_by_region = dict(s.exec(select(Site.region_code, Site.id)).all())
        with engine.begin() as conn:
            conn.execute(
                insert(User),
                [{"id": admin_id, "display_name": "管理员", "is_active": True, "created_at": now}],
            )
            from app.accounts.models import RoleGrant

            conn.execute(
                insert(RoleGrant),
                [
                    {
                        "id": new_id(),
                        "user_id": admin_id,
                        "role": "platform_admin",
                        "site_id": None,
                        "created_at": now,
                    }
                ],
            )
            villages = (
                data.villages[: len(data.villages) // counties] if one_county else data.villages
            )
            for _ in range(orders):
                code, lat, lng = random_order_point(rng, Dataset(villages=villages))
                rows.append(
                    {
                        "id": new_id(),
                        "requester_id": admin_id,
                        "category_code": "care" if rng.random() < 0.6 else rng.choice(CATEGORIES),
                        "title": "批量",
                        "description": "",
                        "address": "",
                        "region_code": code,
                        "review_site_id": site_by_region[code],
                        "people_needed": 1,
                        "contact_name": "x",
                        "contact_phone_cipher": b"x",
                        "contact_phone_masked": "x",
                        "channel": "app",
                        "status": "unassigned",
                        "report_photos": [],
                        "volunteer_ids": [],
                        "last_event_seq": 0,
                        "lat": lat,
                        "lng": lng,
                        "coord_system": "wgs84",
                        "wgs_lat": lat,
                        "wgs_lng": lng,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            conn.execute(insert(Order), rows)
        # What a served process does at start-up (`app.main`'s lifespan): the collector then
        # skips the objects of the imports and of the dataset built above.
        freeze_startup_heap()
        with open_session(factory, write=False) as s:
            from sqlmodel import col

            pending = list(
                s.exec(
                    select(Order)
                    .where(Order.status == "unassigned")
                    .order_by(col(Order.created_at))
                ).all()
            )
            results = {}
            for strategy in (Strategy.JOINT, Strategy.GREEDY):
                times = []
                for _ in range(REPEATS):
                    started = time.perf_counter()
                    candidates, free, outcome = plan(s, pending, strategy)
                    times.append(time.perf_counter() - started)
                elapsed = statistics.median(times)
                index = {o.id: i for i, o in enumerate(pending)}
                distance = 0.0
                for order_id, team_id in outcome.assigned.items():
                    c = next(c for c in candidates[index[order_id]] if c.team.team_id == team_id)
                    distance += c.distance_km or 0.0
                results[strategy.value] = {
                    "assigned": len(outcome.assigned),
                    "total_distance_km": round(distance, 1),
                    "total_cost": round(outcome.total_cost, 1),
                    "plan_seconds": round(elapsed, 4),
                }
            slots = sum(
                min(sum(1 for cl in candidates for c in cl if c.team.team_id == t), n)
                for t, n in free.items()
                if n > 0
            )
        # The bare solve: one dense matrix of the same shape as the joint problem.
        shape = (len(pending), max(slots, len(pending)))
        matrix = np.random.default_rng(0).uniform(0, 50, size=shape)
        solves = []
        for _ in range(2 * REPEATS - 1):
            started = time.perf_counter()
            linear_sum_assignment(matrix)
            solves.append(time.perf_counter() - started)
        bare_seconds = statistics.median(solves)
        # End to end: the assignment with its writes REPEATS times (the median; each rolled back
        # but the last), plus the commit of the last.
        runs = []
        for attempt in range(REPEATS):
            with open_session(factory, write=True) as s:
                principal = load_principal(s, s.get(User, admin_id))  # type: ignore[arg-type]
                started = time.perf_counter()
                outcome = assign_batch(
                    session=s,
                    settings=settings,
                    actor=principal,
                    region_code=None,
                    strategy=Strategy.JOINT,
                    limit=orders,
                )
                s.flush()
                runs.append(time.perf_counter() - started)
                if attempt < REPEATS - 1:
                    s.rollback()
                    continue
                started = time.perf_counter()
                s.commit()
                commit_seconds = time.perf_counter() - started
        end_to_end = statistics.median(runs) + commit_seconds
        return {
            "backend": kind,
            "scenario": "one county" if one_county else "whole city",
            "teams": data.team_count,
            "orders": orders,
            "joint": results["joint"],
            "greedy": results["greedy"],
            "distance_saving_vs_greedy": round(
                1 - results["joint"]["total_distance_km"] / results["greedy"]["total_distance_km"],
                4,
            )
            if results["greedy"]["total_distance_km"]
            else None,
            "bare_solve_shape": list(shape),
            "bare_solve_seconds": round(bare_seconds, 4),
            "end_to_end_seconds_with_writes": round(end_to_end, 4),
            "end_to_end_runs_before_commit": [round(r, 4) for r in runs],
            "commit_seconds": round(commit_seconds, 4),
            "bare_solve_runs": [round(r, 4) for r in solves],
            "end_to_end_ratio": round(end_to_end / bare_seconds, 2),
            "plan_ratio": round(results["joint"]["plan_seconds"] / bare_seconds, 2),
            "assigned_end_to_end": len(outcome.assigned),
        }


SUITES = ("ranking", "http", "batch", "ledger")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--quick", action="store_true", help="small and short, to check the harness"
    )
    parser.add_argument(
        "--only", choices=SUITES, action="append", help="run only these suites (repeatable)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1),
        help="uvicorn workers serving both the product and the baseline (default: 2 per core, "
        "as for any I/O-bound Python service)",
    )
    parser.add_argument(
        "--client",
        choices=("lean", "httpx"),
        default="lean",
        help="the load generator (default: lean, bench/loadgen.py)",
    )
    args = parser.parse_args()
    LOAD_CLIENT["kind"] = args.client
    suites = set(args.only or SUITES)
    tmp = ROOT / "var"
    tmp.mkdir(exist_ok=True)
    quick = args.quick
    results: dict[str, Any] = {
        "when": utcnow().isoformat(),
        "cpu_count": os.cpu_count(),
        "load_client": args.client,
    }
    small, large = (2, 6) if quick else (8, 76)
    samples = 200 if quick else 2000
    seconds = 3.0 if quick else 10.0

    def report(name: str, rows: list[dict[str, Any]]) -> None:
        results[name] = rows
        for row in rows:
            print(name, json.dumps(row, ensure_ascii=False), flush=True)

    if "ranking" in suites:
        report(
            "ranking",
            [
                bench_ranking(kind, n, samples, tmp)
                for kind in ("postgresql", "sqlite")
                for n in (small, large)
            ],
        )
    if "http" in suites:
        report(
            "http",
            [
                bench_http(kind, small, seconds, 16, args.workers, tmp)
                for kind in ("sqlite", "postgresql")
            ],
        )
    if "batch" in suites:
        report(
            "batch",
            [
                bench_batch("postgresql", small, 200 if quick else 1000, tmp, one_county=one)
                for one in (False, True)
            ],
        )
    if "ledger" in suites:
        from bench.ledger import bench_ledger

        volunteers, records = (20_000, 280_000) if quick else (860_000, 12_000_000)
        report(
            "ledger",
            [
                bench_ledger(
                    tmp,
                    counties=small,
                    volunteers=volunteers,
                    records=records,
                    seconds=seconds,
                    clients=16,
                    workers=args.workers,
                )
            ],
        )
    RESULTS.mkdir(exist_ok=True)
    name = "latest.json" if suites == set(SUITES) else f"latest-{'-'.join(sorted(suites))}.json"
    (RESULTS / name).write_text(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
