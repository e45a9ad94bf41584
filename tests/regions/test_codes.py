from __future__ import annotations

import pytest

from app.regions.codes import (
    RegionLevel,
    ancestors,
    in_subtree,
    is_valid_code,
    level_of,
    parent_code,
    subtree_bounds,
)
from app.regions.scope import RegionScope


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("140000000000", RegionLevel.PROVINCE),
        ("140800000000", RegionLevel.CITY),
        ("140802000000", RegionLevel.COUNTY),
        ("140802100000", RegionLevel.TOWNSHIP),
        ("140802001000", RegionLevel.TOWNSHIP),
        ("140802100200", RegionLevel.VILLAGE),
        ("140802404498", RegionLevel.VILLAGE),
    ],
)
def test_level(code: str, level: RegionLevel) -> None:
    assert level_of(code) is level


@pytest.mark.parametrize("code", ["14080200000", "1408020000000", "14080200000a", "000000000000"])
def test_invalid_codes(code: str) -> None:
    assert not is_valid_code(code)


def test_subtree_bounds_and_membership() -> None:
    assert subtree_bounds("140802000000") == ("140802000000", "140802999999")
    assert subtree_bounds("140802100000") == ("140802100000", "140802100999")
    assert subtree_bounds("140802100200") == ("140802100200", "140802100200")
    assert in_subtree("140802100200", "140802000000")
    assert in_subtree("140802100200", "140802100200")
    assert not in_subtree("140802101200", "140802100000")
    assert not in_subtree("140803100200", "140802000000")


def test_parents_and_ancestors() -> None:
    assert parent_code("140802100200") == "140802100000"
    assert parent_code("140802100000") == "140802000000"
    assert parent_code("140000000000") is None
    assert ancestors("140802100200") == [
        "140802100000",
        "140802000000",
        "140800000000",
        "140000000000",
    ]


def test_scope_collapses_nested_roots_and_narrows() -> None:
    scope = RegionScope.of(["140802100200", "140802000000", "140803100000"])
    assert scope.roots == ("140802000000", "140803100000")
    assert scope.covers("140802100201")
    assert not scope.covers("140803200000")
    assert scope.narrowed_to("140802100000").roots == ("140802100000",)
    assert RegionScope.of(["140802100200"]).narrowed_to("140802000000").roots == ("140802100200",)
    assert RegionScope.of(["140802100200"]).narrowed_to("140803000000").is_empty
    assert RegionScope(everything=True).covers("650000000000")
    assert not RegionScope.nothing().covers("140802000000")
