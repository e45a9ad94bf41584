"""How much personal data an export carries."""

from __future__ import annotations

from enum import StrEnum


class PersonalData(StrEnum):
    """How much personal data leaves: masked numbers (default) or, where the receiving system
    requires them (national registration is keyed by the ID number), the numbers themselves."""

    MASKED = "masked"
    FULL = "full"
