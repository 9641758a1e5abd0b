"""Identifiers.

Rows of tenant-owned tables get time-ordered UUIDs (version 7, RFC 9562) so
ids stay unique across database clusters when shops are sharded, and insert
in index order. People see order numbers and short codes, not these.
"""

from __future__ import annotations

import os
import struct
import threading
import time
import uuid

from app.core.errors import NotFound

_lock = threading.Lock()
# The next free (unix ms << 12 | 12-bit sequence) of this process: the top
# 60 bits of an id but for its version nibble.
_next_tick = 0
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))  # byte 8: variant 0b10


def _reserve_ticks(count: int, random_start: int) -> int:
    """Take ``count`` consecutive ticks for this process: from now (with an
    11-bit random sequence start, as RFC 9562 suggests, so two processes in
    one millisecond rarely share a prefix) or after the last taken, whichever
    is later. A burst of more than ~2 000 ids in a millisecond borrows the
    next milliseconds, so order within the process always holds."""
    global _next_tick
    with _lock:
        first = max(((time.time_ns() // 1_000_000) << 12) | random_start, _next_tick)
        _next_tick = first + count
    return first


def _high_half(tick: int) -> int:
    """Bytes 0-7 of the id of ``tick``: 48-bit ms, version 7, 12-bit sequence."""
    return ((tick >> 12) << 16) | 0x7000 | (tick & 0xFFF)


def uuid7_bytes(count: int) -> bytes:
    """``count`` new UUIDv7 ids as ``16 * count`` raw bytes, ascending (byte
    order is time order), monotonic within this process across calls and
    with ``uuid7()``; 62 random bits each keep processes apart.

    The one writer of the v7 layout: 48-bit unix ms, version 7, 12-bit
    sequence, variant 0b10, 62 random bits. Built a batch at a time (one
    clock read, one random read, a few strided copies), so bulk imports can
    afford an id per row.
    """
    if count <= 0:
        return b""
    rand = os.urandom(8 * count + 2)
    tick = _reserve_ticks(count, int.from_bytes(rand[-2:], "big") & 0x7FF)
    if count == 1:
        return _high_half(tick).to_bytes(8, "big") + rand[:1].translate(_VARIANT) + rand[1:8]
    # Within one millisecond the high halves are consecutive integers.
    highs: list[int] = []
    t, end = tick, tick + count
    while t < end:
        run = min(0x1000 - (t & 0xFFF), end - t)
        first = _high_half(t)
        highs.extend(range(first, first + run))
        t += run
    high_bytes = struct.pack(f">{count}Q", *highs)
    size = 8 * count  # rand has 2 more bytes: the sequence start
    buf = bytearray(16 * count)
    for j in range(8):
        buf[j::16] = high_bytes[j::8]
    buf[8::16] = rand[0:size:8].translate(_VARIANT)
    for j in range(1, 8):
        buf[8 + j :: 16] = rand[j:size:8]
    return bytes(buf)


def uuid7() -> uuid.UUID:
    """Return a new UUIDv7; monotonic within this process."""
    return uuid.UUID(bytes=uuid7_bytes(1))


def parse_uuid(value: str | uuid.UUID) -> uuid.UUID | None:
    """Parse an id from a URL or body; ``None`` when it is not a UUID."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return None


def id_or_404(value: str, detail: str = "No such resource.") -> uuid.UUID:
    """The id in a URL, or ``NotFound`` when it is not a UUID: a malformed id
    is answered like an id of nothing (404, never 400), so probing learns
    nothing."""
    ident = parse_uuid(value)
    if ident is None:
        raise NotFound(detail)
    return ident
