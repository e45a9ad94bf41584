"""The city-sized ledger benchmark (issue 4): about 860,000 volunteers and 12 million records on
PostgreSQL, measured in one run next to the bare-insert baseline served the same way.

- recording a service record (`POST /records`, with its totals) against the bare insert, both at
  16 concurrent clients;
- a leaderboard page (top 50 by hours for a year) for the city, a county and a township, at the
  same concurrency, against the bare insert's p50;
- the full recompute of every total from the ledgers, its time, and that it then agrees with the
  totals the records above changed incrementally.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

from app.accounts.models import RoleGrant, User
from app.auth.security import issue_access_token
from app.common.clock import utcnow
from app.common.ids import new_id
from bench.dataset import build
from bench.ledger_data import Ledger, load
from bench.loadgen import Request
from bench.run import (
    ROOT,
    _load,
    alternated,
    bare_requests,
    checkpointer,
    database,
    serve,
    settings_for,
)


def _platform_admin_headers(engine: Engine, url: str) -> dict[str, str]:
    admin_id = new_id()
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(User), [{"id": admin_id, "display_name": "管理员", "is_active": True,
                            "created_at": now}]
        )  # fmt: skip
        conn.execute(
            insert(RoleGrant),
            [{"id": new_id(), "user_id": admin_id, "role": "platform_admin", "site_id": None,
              "created_at": now}],
        )  # fmt: skip
    token, _ = issue_access_token(admin_id, settings_for(url))
    return {"Authorization": f"Bearer {token}"}


def _recompute(url: str, *, check: bool) -> tuple[float, str]:
    env = {**os.environ, "DATABASE_URL": url, "DIANDAN_ENV": "test"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "app.scoring.recompute", *(["--check"] if check else [])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        print("  recompute", "check" if check else "", "exited", done.returncode, output[-500:])
    return round(elapsed, 2), output[-300:] if done.returncode else output.splitlines()[-1]


def _record_requests(rng: random.Random, ledger: Ledger) -> Any:
    """Records on random past days of this year: no day ever nears 24 hours for one volunteer."""
    year_start = date(utcnow().year, 1, 1)
    span = max(1, (utcnow().date() - year_start).days)

    def record(_: int) -> Request:
        volunteer_id, team_id, _region = rng.choice(ledger.sample_members)
        day = year_start + timedelta(days=rng.randrange(span))
        return "/api/v1/records", {
            "volunteer_id": volunteer_id,
            "team_id": team_id,
            "category_code": "care",
            "service_date": day.isoformat(),
            "hours": 1.5,
            "content": "入户探访独居老人",
        }

    return record


def _leaderboard_requests(region: str) -> Any:
    year = utcnow().year

    def board(_: int) -> Request:
        return (
            f"/api/v1/leaderboards/volunteers?region={region}&period=year&at={year}"
            "&by=hours&limit=50",
            None,
        )

    return board


def bench_ledger(
    tmp: Path,
    *,
    counties: int,
    volunteers: int,
    records: int,
    seconds: float,
    clients: int,
    workers: int,
) -> dict[str, Any]:
    with database("postgresql", tmp) as (url, engine):
        data = build(engine, counties=counties)
        from bench.bare_model import BenchRow

        BenchRow.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
        ledger = load(engine, volunteers=volunteers, records=records)
        print(f"  ledger loaded: {ledger.volunteers} volunteers, {ledger.records} records "
              f"in {ledger.load_seconds} s", flush=True)  # fmt: skip
        recompute_seconds, recompute_said = _recompute(url, check=False)
        # The recompute rewrote every total: settle it now, or autovacuum would do it during
        # the measurements below.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE volunteer_total, team_total"))
        headers = _platform_admin_headers(engine, url)
        rng = random.Random(11)
        county = data.villages[0][0][:6] + "000000"
        township = data.villages[0][0][:9] + "000"
        city = county[:4] + "00000000"
        with serve(url, workers) as base:
            bare = bare_requests(rng, data)
            record = _record_requests(rng, ledger)
            asyncio.run(_load(base, bare, headers, clients, 2.0))  # warm-up
            asyncio.run(_load(base, record, headers, clients, 2.0))
            settle = checkpointer(engine)
            measured = alternated(
                base, {"bare": bare, "record": record}, headers, clients, seconds, settle=settle
            )
            baseline, recording = measured["bare"], measured["record"]
            regions = {"city": city, "county": county, "township": township}
            phases = {name: _leaderboard_requests(region) for name, region in regions.items()}
            boards = alternated(
                base, {"bare": bare, **phases}, headers, clients, seconds / 2, settle=settle
            )
            # The baseline measured in turn with the boards: whether the machine (the database
            # settling the record phase's writes) changed under them.
            bare_after = boards.pop("bare")
        check_seconds, check_said = _recompute(url, check=True)
        return {
            "backend": "postgresql",
            "volunteers": ledger.volunteers,
            "records": ledger.records,
            "load_seconds": ledger.load_seconds,
            "clients": clients,
            "bare_insert": baseline,
            "record_with_totals": recording,
            "record_throughput_ratio": round(recording["rps"] / baseline["rps"], 3),
            "leaderboards": boards,
            "leaderboard_p50_ratios": {
                name: round(result["p50_ms"] / baseline["p50_ms"], 3)
                for name, result in boards.items()
            },
            "leaderboard_p50_ratios_to_bare_with_boards": {
                name: round(result["p50_ms"] / bare_after["p50_ms"], 3)
                for name, result in boards.items()
            },
            "bare_insert_with_boards": bare_after,
            "recompute_seconds": recompute_seconds,
            "recompute": recompute_said,
            "check_seconds": check_seconds,
            "check": check_said,
        }
