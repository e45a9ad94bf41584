"""The 12-digit statistical division code: levels and subtrees as pure functions.

province (2) + city (2) + county (2) + township (3) + village (3). Trailing zero groups mark the
level, so a region's subtree is every code between its significant prefix padded with 0s and with
9s: a range scan on an ordinary B-tree index in both SQLite and PostgreSQL.
"""

from __future__ import annotations

from enum import IntEnum
from functools import lru_cache

CODE_LENGTH = 12
_PREFIX_LENGTHS = (2, 4, 6, 9, 12)


class RegionLevel(IntEnum):
    PROVINCE = 1
    CITY = 2
    COUNTY = 3
    TOWNSHIP = 4
    VILLAGE = 5


def is_valid_code(code: str) -> bool:
    return len(code) == CODE_LENGTH and code.isdigit() and code[:2] != "00"


_LEVEL_LENGTHS = tuple(zip(RegionLevel, _PREFIX_LENGTHS, strict=True))


# Dispatch and batch planning ask for the same few thousand codes over and over: cached.
@lru_cache(maxsize=65536)
def level_of(code: str) -> RegionLevel:
    for level, length in _LEVEL_LENGTHS:
        if code[length:].strip("0") == "":
            return level
    raise AssertionError("unreachable: the village level covers every code")


def significant_prefix(code: str) -> str:
    return code[: _PREFIX_LENGTHS[level_of(code) - 1]]


def subtree_bounds(code: str) -> tuple[str, str]:
    """Inclusive (low, high) codes of the region and everything below it."""
    prefix = significant_prefix(code)
    pad = CODE_LENGTH - len(prefix)
    return prefix + "0" * pad, prefix + "9" * pad


def in_subtree(code: str, root: str) -> bool:
    low, high = subtree_bounds(root)
    return low <= code <= high


def parent_code(code: str) -> str | None:
    level = level_of(code)
    if level is RegionLevel.PROVINCE:
        return None
    keep = _PREFIX_LENGTHS[level - 2]
    return code[:keep] + "0" * (CODE_LENGTH - keep)


def ancestors(code: str) -> list[str]:
    """Codes from the region's parent up to its province."""
    return list(_ancestors(code))


@lru_cache(maxsize=65536)
def _ancestors(code: str) -> tuple[str, ...]:
    result: list[str] = []
    current = parent_code(code)
    while current is not None:
        result.append(current)
        current = parent_code(current)
    return tuple(result)
