"""Region scope: the subtrees a caller may act on, as a predicate and as a SQL filter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from app.regions.codes import in_subtree, subtree_bounds


@dataclass(frozen=True)
class RegionScope:
    everything: bool = False
    roots: tuple[str, ...] = ()

    @classmethod
    def nothing(cls) -> RegionScope:
        return cls()

    @classmethod
    def of(cls, roots: list[str] | tuple[str, ...]) -> RegionScope:
        # Drop roots that sit inside another root: the filter stays small.
        kept = sorted(set(roots))
        kept = [r for r in kept if not any(o != r and in_subtree(r, o) for o in kept)]
        return cls(roots=tuple(kept))

    @property
    def is_empty(self) -> bool:
        return not self.everything and not self.roots

    def covers(self, code: str | None) -> bool:
        if self.everything:
            return True
        return code is not None and any(in_subtree(code, root) for root in self.roots)

    def filter(self, column: Any) -> ColumnElement[bool]:
        """`column BETWEEN low AND high` per root: an index range scan on both databases."""
        if self.everything:
            return true()
        if not self.roots:
            return false()
        ranges = [column.between(*subtree_bounds(root)) for root in self.roots]
        return ranges[0] if len(ranges) == 1 else or_(*ranges)

    def narrowed_to(self, code: str) -> RegionScope:
        """This scope intersected with one region's subtree (for `?region=` filters)."""
        if self.everything or any(in_subtree(code, root) for root in self.roots):
            return RegionScope(roots=(code,))
        inner = tuple(root for root in self.roots if in_subtree(root, code))
        return RegionScope(roots=inner)
