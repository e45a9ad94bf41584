from __future__ import annotations

import pytest

from app.common.identity import (
    id_check_char,
    mask_id_number,
    mask_name,
    mask_phone,
    normalize_id_number,
    normalize_phone,
)


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),  # the example printed in GB 11643-1999
        ("44052418800101001", "4"),
        ("14080219900101001", "5"),  # weighted sum 172, 172 % 11 = 7 → "5"
    ],
)
def test_check_character(first17: str, check: str) -> None:
    assert id_check_char(first17) == check


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("11010519491231002x", "11010519491231002X"), (" 440524188001010014 ", "440524188001010014")],
)
def test_valid_id_numbers_are_normalised(raw: str, expected: str) -> None:
    assert normalize_id_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("110105194912310021", "校验位"),  # wrong check digit
        ("11010519491331002X", "出生日期"),  # month 13
        ("1101051949123100", "18位"),  # too short
        ("11010519491231002Y", "18位"),  # bad last character
        ("A1010519491231002X", "18位"),
    ],
)
def test_invalid_id_numbers_are_refused(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_id_number(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("13800138000", "13800138000"), ("+86 138-0013-8000", "13800138000")],
)
def test_mobile_numbers(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "not a phone", "+1 650 253 0000", "010-12345678"])
def test_non_mobile_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="手机号"):
        normalize_phone(raw)


def test_masking() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("李") == "李"
