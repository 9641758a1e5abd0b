"""Card secrets at rest: AES-256-GCM with rotatable keys, and a keyed
fingerprint (HMAC-SHA256) that finds duplicates without decrypting.

Keys come from configuration only:

- ``CARD_KEY``: the current key (64 hex characters = 32 bytes). New rows are
  encrypted with it. Its id is the first 8 hex digits of SHA-256 of the key,
  stored on every row, so a row names the key that opens it.
- ``CARD_KEYS_OLD``: comma-separated earlier keys, still accepted for
  decryption until ``flask --app wsgi cards rotate-key`` has re-encrypted
  every row under the current key.
- ``CARD_HASH_KEY``: the fingerprint key. It is separate so that rotating
  the encryption key does not change fingerprints (and so duplicate checks
  keep working across a rotation).

The row id is bound as GCM associated data: a ciphertext copied onto another
row does not decrypt. Plaintext never leaves this module except through
``decrypt``, and no function here logs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.errors import ConfigurationError

NONCE_BYTES = 12


def _parse_key(value: str, name: str) -> bytes:
    try:
        key = bytes.fromhex(value.strip())
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be 64 hex characters") from exc
    if len(key) != 32:
        raise ConfigurationError(f"{name} must be 64 hex characters (32 bytes)")
    return key


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


@dataclass(frozen=True)
class CardCipher:
    current_id: str
    keys: dict[str, AESGCM]
    hash_key: bytes

    @classmethod
    def from_config(cls, config) -> CardCipher:
        current = _parse_key(config["CARD_KEY"], "CARD_KEY")
        keys = {key_id(current): AESGCM(current)}
        for raw in (config.get("CARD_KEYS_OLD") or "").split(","):
            if raw.strip():
                old = _parse_key(raw, "CARD_KEYS_OLD")
                keys.setdefault(key_id(old), AESGCM(old))
        hash_key = _parse_key(config["CARD_HASH_KEY"], "CARD_HASH_KEY")
        return cls(key_id(current), keys, hash_key)

    def encrypt(self, row_id: uuid.UUID, plaintext: str) -> bytes:
        """``nonce || ciphertext+tag`` under the current key."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self.keys[self.current_id].encrypt(
            nonce, plaintext.encode("utf-8"), row_id.bytes
        )

    def decrypt(self, row_id: uuid.UUID, kid: str, blob: bytes) -> str:
        aead = self.keys.get(kid)
        if aead is None:
            raise ConfigurationError(f"no key with id {kid}; add it to CARD_KEYS_OLD")
        nonce, body = bytes(blob[:NONCE_BYTES]), bytes(blob[NONCE_BYTES:])
        return aead.decrypt(nonce, body, row_id.bytes).decode("utf-8")

    def fingerprint(self, canonical: str) -> bytes:
        """32-byte HMAC of a card's canonical form (see ``catalog.cards``)."""
        return hmac.new(self.hash_key, canonical.encode("utf-8"), hashlib.sha256).digest()


def get_cipher(app=None) -> CardCipher:
    """The app's cipher, built once per process from its config."""
    from flask import current_app

    app = app or current_app._get_current_object()
    cipher = app.extensions.get("kameng_cipher")
    if cipher is None:
        cipher = CardCipher.from_config(app.config)
        app.extensions["kameng_cipher"] = cipher
    return cipher
