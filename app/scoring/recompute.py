"""Rebuild every total from its ledger, or check that they agree: the period totals (hours from
the service records, points and ratings from the points ledger and the ratings) and the points
balances.

python -m app.scoring.recompute          # rebuild (one transaction), print the row counts
python -m app.scoring.recompute --check  # compare only; exit 1 when anything differs
"""

from __future__ import annotations

import argparse
import sys
import time

from app.config import get_settings
from app.db import make_engine, make_sessionmaker, open_session
from app.scoring import rebuild, score_totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.scoring.recompute", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare only, change nothing")
    args = parser.parse_args(argv)
    engine = make_engine(get_settings())
    started = time.perf_counter()
    try:
        with open_session(make_sessionmaker(engine), write=not args.check) as session:
            if args.check:
                found = {
                    **rebuild.mismatches(session),
                    **score_totals.balance_mismatches(session),
                }
                print(f"mismatches: {found} ({time.perf_counter() - started:.1f} s)")
                return 1 if any(found.values()) else 0
            counts = {
                **rebuild.recompute(session),
                **score_totals.recompute_balances(session),
            }
            session.commit()
            print(f"recomputed: {counts} ({time.perf_counter() - started:.1f} s)")
            return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
