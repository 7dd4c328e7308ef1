"""Encryption of identifiers at rest (Fernet) and keyed hashes for looking them up without decrypting."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _derive(purpose: str) -> bytes:
    return hashlib.sha256(f"carefund:{purpose}:{settings.SECRET_KEY}".encode()).digest()


def _fernet() -> Fernet:
    key = settings.FIELD_ENCRYPTION_KEY or base64.urlsafe_b64encode(_derive("field-encryption")).decode()
    return Fernet(key)


def encrypt_identifier(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_identifier(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # pragma: no cover - only with a wrong key
        raise RuntimeError("cannot decrypt identifier: FIELD_ENCRYPTION_KEY does not match the data") from exc


def identifier_hash(plaintext: str) -> str:
    """Keyed hash (HMAC-SHA256) of a normalised identifier, for equality lookups."""
    key = settings.IDENTIFIER_HASH_KEY.encode() if settings.IDENTIFIER_HASH_KEY else _derive("identifier-hash")
    return hmac.new(key, plaintext.encode(), hashlib.sha256).hexdigest()
