"""Ids are UUIDv7: time-ordered, version 7, variant 0b10, one layout for
single ids and for ids made in bulk."""

from __future__ import annotations

import time
import uuid

import pytest

from app.core.ids import uuid7, uuid7_bytes


def _ids(raw: bytes) -> list[uuid.UUID]:
    return [uuid.UUID(bytes=raw[i : i + 16]) for i in range(0, len(raw), 16)]


@pytest.mark.parametrize("count", [1, 2, 4095, 4096, 10_000])
def test_a_batch_is_count_ids_in_ascending_order(count):
    raw = uuid7_bytes(count)
    assert len(raw) == 16 * count
    ids = _ids(raw)
    assert ids == sorted(ids) and len(set(ids)) == count
    assert [raw[i : i + 16] for i in range(0, len(raw), 16)] == sorted(
        raw[i : i + 16] for i in range(0, len(raw), 16)
    )


def test_every_id_has_version_7_and_variant_10():
    for ident in [*_ids(uuid7_bytes(5000)), uuid7()]:
        assert ident.version == 7
        assert ident.bytes[6] >> 4 == 7
        assert ident.bytes[8] >> 6 == 0b10


def test_ids_carry_the_time_they_were_made_in_milliseconds():
    before = time.time_ns() // 1_000_000
    ident = uuid7()
    after = time.time_ns() // 1_000_000
    # A burst earlier in this process may have borrowed a few milliseconds ahead.
    assert before <= int.from_bytes(ident.bytes[:6], "big") <= after + 1_000


def test_single_ids_and_batches_keep_one_order_across_calls():
    made = [uuid7(), *_ids(uuid7_bytes(3)), uuid7(), *_ids(uuid7_bytes(5000)), uuid7()]
    assert made == sorted(made) and len(set(made)) == len(made)


def test_nothing_asked_is_nothing_made():
    assert uuid7_bytes(0) == b""
