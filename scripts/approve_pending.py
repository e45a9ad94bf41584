"""Approve the pending volunteers of a township through the generated client.

    python -m scripts.approve_pending --base-url http://127.0.0.1:8000 \\
        --username institute --password demo1234 --township 140802100000 [--dry-run]

Signs in (`POST /api/v1/auth/token`), lists the township's pending volunteers page by page
(`GET /api/v1/volunteers?region=…&status=pending`) and approves each
(`POST /api/v1/volunteers/{id}/approve`). Exit status 0 when every one was approved (or, with
`--dry-run`, listed), 1 when one or more could not be, or the server refused the run.
"""

from __future__ import annotations

import argparse
import sys

from diandan_client import Client, ProblemError
from diandan_client.models import VolunteerOut


def pending_of(client: Client, township: str) -> list[VolunteerOut]:
    """Every pending volunteer of the township's subtree (all pages), read before any changes."""
    pending: list[VolunteerOut] = []
    cursor: str | None = None
    while True:
        page = client.list_volunteers(region=township, status="pending", cursor=cursor)
        pending += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return pending


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument(
        "--township", "--region", dest="township", required=True, metavar="CODE",
        help="the township's 12-digit region code",
    )  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="list them, approve nobody")
    args = parser.parse_args(argv)
    with Client(args.base_url) as client:
        try:
            client.login(args.username, args.password)
            region = client.read_region(args.township)
            if region["level"] != "township":
                print(f"{args.township} is a {region['level']}, not a township", file=sys.stderr)
                return 1
            pending = pending_of(client, args.township)
        except ProblemError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
        approved = failed = 0
        for volunteer in pending:
            if args.dry_run:
                print(f"would approve {volunteer['id']} {volunteer['real_name']}")
                continue
            try:
                client.approve_volunteer(volunteer["id"])
                approved += 1
            except ProblemError as exc:
                failed += 1
                print(f"could not approve {volunteer['id']}: {exc}", file=sys.stderr)
    print(f"{region['name']}: pending {len(pending)}, approved {approved}, failed {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
