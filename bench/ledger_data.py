"""A city-sized service ledger, generated inside PostgreSQL.

On top of `bench.dataset.build` (the region tree, sites and teams), this adds volunteers (each with
an account and one team membership) and historical service records, all by server-side
`INSERT … SELECT generate_series(…)`: 12 million rows never pass through Python. Secondary indexes
of the ledger are dropped during the load and rebuilt after it, and foreign-key triggers are off
for the session (`session_replication_role = replica`), as a bulk import would do.

Hours follow a skewed distribution, as real ledgers do: most volunteers have a few records, a few
have hundreds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, text


@dataclass
class Ledger:
    volunteers: int
    records: int
    load_seconds: float
    sample_members: list[tuple[str, str, str]]  # volunteer id, team id, team region code
    recorder_id: str


def load(engine: Engine, *, volunteers: int, records: int) -> Ledger:
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        recorder = conn.execute(
            text(
                "INSERT INTO app_user (id, display_name, is_active, created_at) "
                "VALUES (gen_random_uuid(), '导入', true, now()) RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            text(
                "CREATE TEMP TABLE bench_team ON COMMIT DROP AS "
                "SELECT id, region_code, row_number() OVER (ORDER BY id) - 1 AS n FROM team"
            )
        )
        teams = conn.execute(text("SELECT count(*) FROM bench_team")).scalar_one()
        conn.execute(
            text(
                "CREATE TEMP TABLE bench_volunteer ON COMMIT DROP AS "
                "SELECT g AS n, gen_random_uuid() AS user_id, gen_random_uuid() AS volunteer_id, "
                "t.id AS team_id, t.region_code "
                "FROM generate_series(0, :n - 1) g JOIN bench_team t ON t.n = g % :teams"
            ),
            {"n": volunteers, "teams": teams},
        )
        conn.execute(text("CREATE UNIQUE INDEX ON bench_volunteer (n)"))
        conn.execute(
            text(
                "INSERT INTO app_user (id, display_name, is_active, created_at) "
                "SELECT user_id, '志愿者' || n, true, now() FROM bench_volunteer"
            )
        )
        conn.execute(
            text(
                "INSERT INTO volunteer (id, user_id, real_name, phone_cipher, phone_hash, "
                "phone_masked, region_code, skills, status, created_at, updated_at) "
                "SELECT volunteer_id, user_id, '志愿者' || n, '\\x00'::bytea, md5(n::text), "
                "'139****0000', region_code, '[]', 'approved', now(), now() "
                "FROM bench_volunteer"
            )
        )
        conn.execute(
            text(
                "INSERT INTO team_member (id, team_id, volunteer_id, role, joined_at) "
                "SELECT gen_random_uuid(), team_id, volunteer_id, 'member', now() "
                "FROM bench_volunteer"
            )
        )
        index_defs = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'service_record' "
                "AND indexname NOT LIKE 'pk_%' AND indexdef NOT LIKE '%UNIQUE%'"
            )
        ).all()
        unique_defs = conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'service_record'::regclass AND contype = 'u'"
            )
        ).all()
        for name, _ in index_defs:
            conn.execute(text(f'DROP INDEX "{name}"'))
        for name, _ in unique_defs:
            conn.execute(text(f'ALTER TABLE service_record DROP CONSTRAINT "{name}"'))
        # Skewed as real ledgers are: volunteer n has about k·(n+1)^(-1/3) records, k chosen so
        # that the total is close to `records` (the sum of n^(-1/3) up to N is about 1.5·N^(2/3)).
        scale = records / (1.5 * volunteers ** (2 / 3))
        conn.execute(
            text(
                "INSERT INTO service_record (id, volunteer_id, team_id, source, category_code, "
                "region_code, service_date, minutes, content, place, recorded_by_id, created_at) "
                "SELECT gen_random_uuid(), v.volunteer_id, v.team_id, 'import', "
                "(ARRAY['care','digital_elderly','legal_aid','health_education','civility',"
                "'environment','safety','culture_arts'])[1 + ((v.n + g) % 8)], v.region_code, "
                "date '2023-01-01' + ((v.n * 31 + g * 17) % 1400), 30 + 15 * ((v.n + g) % 15), "
                "'', '', :recorder, now() "
                "FROM bench_volunteer v, "
                "generate_series(1, greatest(1, round(:scale * power(v.n + 1, -1.0 / 3))::int)) g"
            ),
            {"scale": scale, "recorder": recorder},
        )
        records = conn.execute(text("SELECT count(*) FROM service_record")).scalar_one()
        for _, definition in index_defs:
            conn.execute(text(definition))
        for name, definition in unique_defs:
            conn.execute(text(f'ALTER TABLE service_record ADD CONSTRAINT "{name}" {definition}'))
        sample = conn.execute(
            text(
                "SELECT volunteer_id::text, team_id::text, region_code FROM bench_volunteer "
                "WHERE n % :step = 0 LIMIT 5000"
            ),
            {"step": max(1, volunteers // 5000)},
        ).all()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return Ledger(
        volunteers=volunteers,
        records=records,
        load_seconds=round(time.perf_counter() - started, 1),
        sample_members=[(str(a), str(b), str(c)) for a, b, c in sample],
        recorder_id=str(recorder),
    )
