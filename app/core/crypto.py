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

Key rotation (``rotate_batch``) walks every sealed column; this module
names none of them: each domain declares its own with
``register_sealed_column`` / ``register_sealed_blob`` in its ``secrets``
module, which the app assembly imports (``app.SECRET_MODULES``).

The row id is bound as GCM associated data: a ciphertext copied onto another
row does not decrypt. Nonces are 96 random bits per message (safe far beyond
any shop's stock: the bound is 2**32 messages per key). Plaintext never
leaves this module except through ``decrypt``/``open_blob``, and no function
here logs.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.errors import ConfigurationError

NONCE_BYTES = 12
KEY_ID_BYTES = 8


def _parse_key(value: str, name: str) -> bytes:
    try:
        key = bytes.fromhex(value.strip())
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be 64 hex characters") from exc
    if len(key) != 32:
        raise ConfigurationError(f"{name} must be 64 hex characters (32 bytes)")
    return key


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:KEY_ID_BYTES]


@dataclass(frozen=True)
class CardCipher:
    current_id: str
    keys: dict[str, AESGCM]
    hash_key: bytes
    # HMAC-SHA256 with its two key pads hashed once (RFC 2104): each
    # fingerprint then costs two hash copies instead of a keyed set-up, about
    # twice as fast as ``hmac.digest`` on OpenSSL 3, with the same result.
    _inner: object = field(init=False, repr=False, compare=False)
    _outer: object = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = self.hash_key.ljust(64, b"\0")  # 32-byte keys: no pre-hashing
        object.__setattr__(self, "_inner", hashlib.sha256(bytes(b ^ 0x36 for b in key)))
        object.__setattr__(self, "_outer", hashlib.sha256(bytes(b ^ 0x5C for b in key)))

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

    def encrypt_many(self, row_ids: list[bytes], plaintexts: list[str]) -> list[bytes]:
        """``encrypt`` for a batch: ``row_ids`` are the rows' 16 id bytes, in
        the order of ``plaintexts`` (one random read for all the nonces)."""
        seal = self.keys[self.current_id].encrypt
        pool = os.urandom(NONCE_BYTES * len(plaintexts))
        out = []
        append = out.append
        at = 0
        for row_id, plaintext in zip(row_ids, plaintexts, strict=True):
            nonce = pool[at : at + NONCE_BYTES]
            at += NONCE_BYTES
            append(nonce + seal(nonce, plaintext.encode("utf-8"), row_id))
        return out

    def decrypt(self, row_id: uuid.UUID, kid: str, blob: bytes) -> str:
        aead = self.keys.get(kid)
        if aead is None:
            raise ConfigurationError(f"no key with id {kid}; add it to CARD_KEYS_OLD")
        nonce, body = bytes(blob[:NONCE_BYTES]), bytes(blob[NONCE_BYTES:])
        return aead.decrypt(nonce, body, row_id.bytes).decode("utf-8")

    def fingerprint(self, canonical: str) -> bytes:
        """32-byte HMAC-SHA256 of a card's canonical form (see ``catalog.cardfile``)."""
        inner = self._inner.copy()
        inner.update(canonical.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def fingerprint_many(self, canonicals: list[str]) -> list[bytes]:
        """``fingerprint`` of each, in order."""
        inner_copy, outer_copy = self._inner.copy, self._outer.copy
        out = []
        append = out.append
        for canonical in canonicals:
            inner = inner_copy()
            inner.update(canonical.encode("utf-8"))
            outer = outer_copy()
            outer.update(inner.digest())
            append(outer.digest())
        return out

    def seal_blob(self, owner_id: uuid.UUID, data: bytes) -> bytes:
        """Encrypt a whole upload kept for a job: ``key id || nonce || ct+tag``,
        bound to ``owner_id`` (the import's id)."""
        nonce = os.urandom(NONCE_BYTES)
        body = self.keys[self.current_id].encrypt(nonce, data, owner_id.bytes)
        return self.current_id.encode("ascii") + nonce + body

    def open_blob(self, owner_id: uuid.UUID, blob: bytes) -> bytes:
        blob = bytes(blob)
        kid = blob[:KEY_ID_BYTES].decode("ascii")
        aead = self.keys.get(kid)
        if aead is None:
            raise ConfigurationError(f"no key with id {kid}; add it to CARD_KEYS_OLD")
        nonce = blob[KEY_ID_BYTES : KEY_ID_BYTES + NONCE_BYTES]
        return aead.decrypt(nonce, blob[KEY_ID_BYTES + NONCE_BYTES :], owner_id.bytes)


def get_cipher(app=None) -> CardCipher:
    """The app's cipher, built once per process from its config."""
    from flask import current_app

    app = app or current_app._get_current_object()
    cipher = app.extensions.get("kameng_cipher")
    if cipher is None:
        cipher = CardCipher.from_config(app.config)
        app.extensions["kameng_cipher"] = cipher
    return cipher


# --- key rotation -------------------------------------------------------------


@dataclass(frozen=True)
class SealedColumn:
    """A column sealed with ``encrypt``: the row id (``id_column``) is the
    associated data and ``key_id_column`` names the key. The table must have
    a ``tenant_id`` column (rotation works shop by shop)."""

    table: str
    id_column: str
    key_id_column: str
    secret_column: str


@dataclass(frozen=True)
class SealedBlob:
    """A column sealed with ``seal_blob`` (the key id is inside the blob)."""

    table: str
    id_column: str
    blob_column: str


_SEALED: dict[tuple[str, str], SealedColumn | SealedBlob] = {}


def register_sealed_column(
    table: str, id_column: str, key_id_column: str, secret_column: str
) -> None:
    """Declare a column sealed with the card key, so key rotation covers it.
    Each domain registers its own (``<domain>/secrets.py``). Idempotent."""
    _SEALED[(table, secret_column)] = SealedColumn(table, id_column, key_id_column, secret_column)


def register_sealed_blob(table: str, id_column: str, blob_column: str) -> None:
    """Declare a column sealed with ``seal_blob``, so key rotation covers it. Idempotent."""
    _SEALED[(table, blob_column)] = SealedBlob(table, id_column, blob_column)


def sealed_columns() -> tuple[SealedColumn, ...]:
    """Every registered ``encrypt`` column, in registration order."""
    return tuple(c for c in _SEALED.values() if isinstance(c, SealedColumn))


def sealed_blobs() -> tuple[SealedBlob, ...]:
    """Every registered ``seal_blob`` column, in registration order."""
    return tuple(c for c in _SEALED.values() if isinstance(c, SealedBlob))


def _stale_rows(spec: SealedColumn, tenant_id: uuid.UUID, current: str, limit: int | None):
    from sqlalchemy import select

    from app.extensions import db

    id_col, kid_col, secret_col = spec.id_column, spec.key_id_column, spec.secret_column
    table = db.metadata.tables.get(spec.table)
    if table is None:
        return None, None
    query = (
        select(table.c[id_col], table.c[kid_col], table.c[secret_col])
        .where(
            table.c.tenant_id == tenant_id,
            table.c[kid_col] != current,
            table.c[secret_col].is_not(None),
        )
        .order_by(table.c[id_col])
    )
    if limit is not None:
        query = query.limit(limit)
    return table, query


def stale_count(tenant_id: uuid.UUID) -> int:
    """How many sealed values of the shop are not under the current key."""
    from sqlalchemy import func, select

    from app.extensions import db

    cipher = get_cipher()
    total = 0
    for spec in sealed_columns():
        _, query = _stale_rows(spec, tenant_id, cipher.current_id, None)
        if query is not None:
            total += db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    for blob_spec in sealed_blobs():
        blob_col = blob_spec.blob_column
        table = db.metadata.tables.get(blob_spec.table)
        if table is not None:
            prefix = cipher.current_id.encode("ascii")
            total += sum(
                1
                for (blob,) in db.session.execute(
                    select(table.c[blob_col]).where(
                        table.c.tenant_id == tenant_id, table.c[blob_col].is_not(None)
                    )
                )
                if bytes(blob[:KEY_ID_BYTES]) != prefix
            )
    return total


def rotate_batch(tenant_id: uuid.UUID, limit: int = 1000) -> tuple[int, set[str]]:
    """Re-encrypt up to ``limit`` of the shop's sealed values that are not
    under the current key, in the caller's transaction (the caller commits).

    Returns (how many, the key ids they left). Each UPDATE names the key id
    it read, so a value changed meanwhile is left for the next batch; a run
    that stops half-way is continued by running again. Raises
    ``ConfigurationError`` when a row's key is not configured.
    """
    from sqlalchemy import bindparam, select, update

    from app.extensions import db

    cipher = get_cipher()
    current = cipher.current_id
    done, old_ids = 0, set()
    for spec in sealed_columns():
        if done >= limit:
            break
        table, query = _stale_rows(spec, tenant_id, current, limit - done)
        if table is None:
            continue
        id_col, kid_col, secret_col = spec.id_column, spec.key_id_column, spec.secret_column
        params = []
        for row_id, kid, blob in db.session.execute(query).all():
            plaintext = cipher.decrypt(row_id, kid, blob)
            params.append(
                {"b_id": row_id, "b_old": kid, "b_secret": cipher.encrypt(row_id, plaintext)}
            )
            old_ids.add(kid)
        if params:
            db.session.execute(
                update(table)
                .where(
                    table.c.tenant_id == tenant_id,
                    table.c[id_col] == bindparam("b_id"),
                    table.c[kid_col] == bindparam("b_old"),
                )
                .values({secret_col: bindparam("b_secret"), kid_col: current}),
                params,
            )
            done += len(params)
    for blob_spec in sealed_blobs():
        id_col, blob_col = blob_spec.id_column, blob_spec.blob_column
        table = db.metadata.tables.get(blob_spec.table)
        if table is None or done >= limit:
            continue
        prefix = current.encode("ascii")
        for row_id, blob in db.session.execute(
            select(table.c[id_col], table.c[blob_col]).where(
                table.c.tenant_id == tenant_id, table.c[blob_col].is_not(None)
            )
        ).all():
            blob = bytes(blob)
            if blob[:KEY_ID_BYTES] == prefix:
                continue
            old_ids.add(blob[:KEY_ID_BYTES].decode("ascii"))
            db.session.execute(
                update(table)
                .where(table.c.tenant_id == tenant_id, table.c[id_col] == row_id)
                .values({blob_col: cipher.seal_blob(row_id, cipher.open_blob(row_id, blob))})
            )
            done += 1
    return done, old_ids
