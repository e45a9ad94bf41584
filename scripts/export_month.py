"""Export a month of service records (the national exchange format, CSV) through the client.

    python -m scripts.export_month --base-url http://127.0.0.1:8000 --username center \\
        --password demo1234 --month 2026-10 --region 140802000000 --out records.csv

Signs in, asks `GET /api/v1/exports/service_records?format=csv&region=…&since=…` for the
region's records (`since` the month's first moment in China time: a record is never entered
before its service date, so no record of the month is left out) and keeps the rows whose
`service_date` falls in the month. The CSV keeps the export's columns; the file is written only
when the export succeeded. Exit status 0 on success, 1 when the server refused.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from diandan_client import Client, ProblemError

CHINA = timezone(timedelta(hours=8))


def month(text: str) -> date:
    """`2026-10` → the month's first day."""
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a month (YYYY-MM): {text!r}") from None


def month_bounds(first: date) -> tuple[date, date]:
    """The month's first day and the first day of the month after."""
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--month", required=True, type=month, help="YYYY-MM")
    parser.add_argument("--region", required=True, metavar="CODE", help="12-digit region code")
    parser.add_argument("--out", required=True, type=Path, help="the CSV file to write")
    args = parser.parse_args(argv)
    start, following = month_bounds(args.month)
    since = datetime(start.year, start.month, start.day, tzinfo=CHINA)
    with Client(args.base_url) as client:
        try:
            client.login(args.username, args.password)
            raw = client.export("service_records", format="csv", region=args.region, since=since)
        except ProblemError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
    columns = list(reader.fieldnames or [])
    if "service_date" not in columns:
        print(f"the export has no service_date column: {columns}", file=sys.stderr)
        return 1
    first, last = start.isoformat(), following.isoformat()
    kept = [row for row in reader if first <= row["service_date"] < last]
    with args.out.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(kept)
    print(f"{len(kept)} records of {args.month:%Y-%m} written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
