"""Export a month of service records (the national exchange format, CSV) through the client.

    python -m scripts.export_month --base-url http://127.0.0.1:8000 --username center \\
        --password demo1234 --month 2026-10 --region 140802000000 --out records.csv
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from datetime import date
from pathlib import Path

from diandan_client import Client


def month_bounds(month: str) -> tuple[date, date]:
    start = date.fromisoformat(f"{month}-01")
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, following


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument("--region", required=True)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    start, following = month_bounds(args.month)
    with Client(args.base_url) as client:
        client.login(args.username, args.password)
        raw = client.export("service_records", format="csv", region=args.region)
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    kept = [r for r in rows if start.isoformat() <= r["service_date"] < following.isoformat()]
    with args.out.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["service_date"])
        writer.writeheader()
        writer.writerows(kept)
    print(f"{len(kept)} records of {args.month} written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
