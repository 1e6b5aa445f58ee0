"""Personal fields at rest: AES-256-GCM per value, and an HMAC blind index to look e-mails up.

A stored value is ``"<kid>:<base64(nonce | ciphertext | tag)>"``: carrying its key id lets keys
rotate without a flag day (decrypt with any known key, encrypt with the current one). The field's
name is bound as associated data, so a ciphertext moved to another field does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.secrets import Secrets


class FieldCipher:
    def __init__(self, keys: dict[str, bytes], current: str, blind_index_key: bytes) -> None:
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self.current = current
        self._index_key = blind_index_key

    def encrypt(self, field: str, value: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead[self.current].encrypt(nonce, value.encode(), field.encode())
        return f"{self.current}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, field: str, stored: str) -> str:
        kid, _, blob = stored.partition(":")
        raw = base64.b64decode(blob)
        return self._aead[kid].decrypt(raw[:12], raw[12:], field.encode()).decode()

    def key_id(self, stored: str) -> str:
        return stored.partition(":")[0]

    def blind_index(self, email: str) -> str:
        """Stable, keyed digest of the normalised address: equality lookups without the plaintext."""
        return hmac.new(self._index_key, normalise_email(email).encode(), hashlib.sha256).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def cipher_of(secrets: Secrets) -> FieldCipher:
    """The cipher of personal fields these secrets define (the API, the jobs and the CLI share it)."""
    return FieldCipher(secrets.data_keys, secrets.current_key, secrets.blind_index_key)
