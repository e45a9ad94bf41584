"""Load regions from a CSV of `code,name,level,parent_code` (see data/SOURCE.md).

python -m app.regions.load path/to/regions.csv
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from sqlmodel import Session, col, select

from app.regions.codes import is_valid_code, level_of
from app.regions.models import Region

DATA_DIR = Path(__file__).parent / "data"
DEMO_COUNTY_FILE = DATA_DIR / "yanhu_140802.csv"


def read_regions(path: Path) -> list[Region]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    regions = []
    for line, row in enumerate(rows, start=2):
        code = row["code"].strip()
        if not is_valid_code(code):
            raise ValueError(f"{path}:{line}: invalid region code {code!r}")
        parent = row.get("parent_code", "").strip() or None
        regions.append(
            Region(
                code=code, name=row["name"].strip(), level=int(level_of(code)), parent_code=parent
            )
        )
    # Parents first, so that foreign keys hold row by row.
    return sorted(regions, key=lambda r: (r.level, r.code))


def load_regions(session: Session, path: Path) -> int:
    """Insert the regions that are not there yet; returns how many were added."""
    regions = read_regions(path)
    existing = set(
        session.exec(
            select(Region.code).where(col(Region.code).in_([r.code for r in regions]))
        ).all()
    )
    new = [r for r in regions if r.code not in existing]
    session.add_all(new)
    session.flush()
    return len(new)


def main() -> None:
    from app.config import get_settings
    from app.db import make_engine, make_sessionmaker, open_session

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEMO_COUNTY_FILE
    engine = make_engine(get_settings())
    with open_session(make_sessionmaker(engine), write=True) as session:
        added = load_regions(session, path)
        session.commit()
    print(f"loaded {added} new regions from {path}")


if __name__ == "__main__":
    main()
