"""Approve the pending volunteers of a township (or any region) through the generated client.

    python -m scripts.approve_pending --base-url http://127.0.0.1:8000 \\
        --username institute --password demo1234 --region 140802100000 [--dry-run]
"""

from __future__ import annotations

import argparse
import sys

from diandan_client import Client, ProblemError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--region", required=True, help="the township's 12-digit code")
    parser.add_argument("--dry-run", action="store_true", help="list, approve nobody")
    args = parser.parse_args(argv)
    with Client(args.base_url) as client:
        client.login(args.username, args.password)
        pending = []
        cursor: str | None = None
        while True:
            page = client.list_volunteers(region=args.region, status="pending", cursor=cursor)
            pending += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
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
        print(f"pending {len(pending)}, approved {approved}, failed {failed}")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
