from __future__ import annotations

import pytest

from app.common.geo import (
    CoordSystem,
    bd09_to_gcj02,
    gcj02_to_wgs84,
    haversine_km,
    to_wgs84,
    wgs84_to_gcj02,
)

YUNCHENG = (35.0266, 111.0069)


def test_gcj02_offset_in_china_is_hundreds_of_metres() -> None:
    shifted = wgs84_to_gcj02(*YUNCHENG)
    offset = haversine_km(*YUNCHENG, *shifted)
    assert 0.1 < offset < 1.0


def test_gcj02_round_trip_is_within_a_metre() -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(*YUNCHENG))
    assert haversine_km(*YUNCHENG, *back) < 0.001


def test_outside_china_is_not_shifted() -> None:
    assert wgs84_to_gcj02(48.8566, 2.3522) == (48.8566, 2.3522)


def test_bd09_goes_through_gcj02() -> None:
    gcj = wgs84_to_gcj02(*YUNCHENG)
    # BD-09 adds roughly 0.006 degrees to GCJ-02; converting back lands within a few metres.
    bd = (gcj[0] + 0.006, gcj[1] + 0.0065)
    assert haversine_km(*bd09_to_gcj02(*bd), *gcj) < 0.05
    assert haversine_km(*to_wgs84(*bd, CoordSystem.BD09), *YUNCHENG) < 0.05


def test_wgs84_is_left_alone() -> None:
    assert to_wgs84(*YUNCHENG, CoordSystem.WGS84) == YUNCHENG


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        ((39.9042, 116.4074), (31.2304, 121.4737), 1067.0),  # Beijing – Shanghai
        ((35.0266, 111.0069), (35.0266, 111.0069), 0.0),
    ],
)
def test_haversine(a: tuple[float, float], b: tuple[float, float], km: float) -> None:
    assert haversine_km(*a, *b) == pytest.approx(km, abs=5.0)
