"""The card cipher (``app.core.crypto``): AES-GCM bound to the row, rotatable
keys, standard HMAC-SHA256 fingerprints (no database)."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest
from cryptography.exceptions import InvalidTag

from app.core.crypto import CardCipher, key_id
from app.core.errors import ConfigurationError

OLD, NEW, HASH = "01" * 32, "02" * 32, "03" * 32


def cipher(current=OLD, old="") -> CardCipher:
    return CardCipher.from_config(
        {"CARD_KEY": current, "CARD_KEYS_OLD": old, "CARD_HASH_KEY": HASH}
    )


def test_a_secret_opens_only_on_its_own_row():
    c = cipher()
    row, other = uuid.uuid4(), uuid.uuid4()
    blob = c.encrypt(row, "号码\t密码")
    assert "号码".encode() not in blob and c.decrypt(row, c.current_id, blob) == "号码\t密码"
    with pytest.raises(InvalidTag):
        c.decrypt(other, c.current_id, blob)


def test_batch_encryption_matches_single_rows_and_uses_fresh_nonces():
    c = cipher()
    rows = [uuid.uuid4() for _ in range(50)]
    blobs = c.encrypt_many([r.bytes for r in rows], [f"code-{i}" for i in range(50)])
    assert [c.decrypt(r, c.current_id, b) for r, b in zip(rows, blobs, strict=True)] == [
        f"code-{i}" for i in range(50)
    ]
    assert len({b[:12] for b in blobs}) == 50


def test_old_keys_still_open_and_unknown_keys_are_named():
    row = uuid.uuid4()
    blob = cipher(OLD).encrypt(row, "X")
    rotated = cipher(NEW, old=OLD)
    assert rotated.current_id == key_id(bytes.fromhex(NEW))
    assert rotated.decrypt(row, key_id(bytes.fromhex(OLD)), blob) == "X"
    with pytest.raises(ConfigurationError, match="add it to CARD_KEYS_OLD"):
        cipher(NEW).decrypt(row, key_id(bytes.fromhex(OLD)), blob)


def test_sealed_uploads_name_their_key_and_their_import():
    owner = uuid.uuid4()
    blob = cipher(OLD).seal_blob(owner, b"A----B\n")
    assert b"A----B" not in blob
    assert cipher(NEW, old=OLD).open_blob(owner, blob) == b"A----B\n"
    with pytest.raises(InvalidTag):
        cipher(OLD).open_blob(uuid.uuid4(), blob)


def test_fingerprints_are_hmac_sha256_and_survive_key_rotation():
    value = "卡号\t密码"
    expected = hmac.new(bytes.fromhex(HASH), value.encode(), hashlib.sha256).digest()
    assert cipher(OLD).fingerprint(value) == expected
    assert cipher(NEW, old=OLD).fingerprint_many([value, "x"]) == [
        expected,
        cipher().fingerprint("x"),
    ]


@pytest.mark.parametrize("bad", ["", "zz" * 32, "00" * 16])
def test_keys_must_be_64_hex_characters(bad):
    with pytest.raises(ConfigurationError, match="64 hex"):
        cipher(current=bad)
