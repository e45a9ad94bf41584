"""Encryption at rest (AES-256-GCM) and keyed lookup hashes for sensitive numbers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class SensitiveCodec:
    """Encrypts personal numbers and derives a deterministic keyed hash for equality lookups.

    The lookup hash lets the database enforce uniqueness (one volunteer per ID number) and find a
    user by phone without storing either in clear.
    """

    def __init__(self, data_key_b64: str) -> None:
        master = base64.b64decode(data_key_b64)
        if len(master) != 32:
            raise ValueError("the data key must be 32 bytes, base64-encoded")
        self._aead = AESGCM(_derive(master, b"diandan/encrypt/v1"))
        self._mac_key = _derive(master, b"diandan/lookup/v1")

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return _VERSION + nonce + sealed

    def decrypt(self, blob: bytes, *, context: str) -> str:
        if blob[:1] != _VERSION:
            raise ValueError("unknown ciphertext version")
        return self._aead.decrypt(blob[1:13], blob[13:], context.encode()).decode()

    def lookup_hash(self, value: str, *, context: str) -> str:
        digest = hmac.new(self._mac_key, f"{context}:{value}".encode(), hashlib.sha256)
        return digest.hexdigest()
