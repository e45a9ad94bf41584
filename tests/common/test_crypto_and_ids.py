from __future__ import annotations

import base64
import os
import time

import pytest
from cryptography.exceptions import InvalidTag

from app.common.crypto import SensitiveCodec
from app.common.ids import new_id

KEY = base64.b64encode(os.urandom(32)).decode()


def test_encrypt_round_trip_and_context_binding() -> None:
    codec = SensitiveCodec(KEY)
    blob = codec.encrypt("13800138000", context="phone")
    assert b"13800138000" not in blob
    assert codec.decrypt(blob, context="phone") == "13800138000"
    with pytest.raises(InvalidTag):
        codec.decrypt(blob, context="id_number")


def test_lookup_hash_is_deterministic_and_keyed() -> None:
    one, other = SensitiveCodec(KEY), SensitiveCodec(base64.b64encode(os.urandom(32)).decode())
    assert one.lookup_hash("x", context="phone") == one.lookup_hash("x", context="phone")
    assert one.lookup_hash("x", context="phone") != other.lookup_hash("x", context="phone")
    assert one.lookup_hash("x", context="phone") != one.lookup_hash("x", context="id")


def test_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SensitiveCodec(base64.b64encode(b"short").decode())


def test_ids_are_version_7_time_ordered_and_unique() -> None:
    first = new_id()
    time.sleep(0.002)
    ids = [new_id() for _ in range(1000)]
    assert first.version == 7
    assert len(set(ids)) == 1000
    assert all(first < later for later in ids)
    assert abs(int(first.hex[:12], 16) - time.time() * 1000) < 5000
