"""Personal numbers: validation (GB 11643 check digit, mainland mobile numbers) and masking."""

from __future__ import annotations

from datetime import date

import phonenumbers

_ID_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]
_ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident ID number (GB 11643-1999)."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalize_id_number(raw: str) -> str:
    """Return the 18-character ID number, or raise ValueError with a bilingual reason."""
    value = raw.strip().upper()
    if (
        len(value) != 18
        or not value[:17].isdigit()
        or not (value[17].isdigit() or value[17] == "X")
    ):
        raise ValueError(
            "身份证号应为18位 / an ID number has 18 characters: 17 digits and a digit or X"
        )
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValueError(
            "身份证号中的出生日期无效 / the birth date in the ID number is invalid"
        ) from None
    if id_check_char(value[:17]) != value[17]:
        raise ValueError("身份证号校验位错误 / the ID number's check digit is wrong")
    return value


def normalize_phone(raw: str) -> str:
    """Return an 11-digit mainland mobile number, or raise ValueError."""
    try:
        parsed = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        raise ValueError("手机号无效 / not a phone number") from None
    if parsed.country_code != 86 or not phonenumbers.is_valid_number(parsed):
        raise ValueError("手机号无效 / not a valid mainland China phone number")
    if phonenumbers.number_type(parsed) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise ValueError("请填写手机号 / a mobile number is required")
    return str(parsed.national_number)


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def mask_id_number(id_number: str) -> str:
    return id_number[:6] + "********" + id_number[-4:]


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***; a one-character name stays as it is."""
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else name
