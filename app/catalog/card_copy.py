"""The PostgreSQL way to store an import's cards (``CopyCardStore``, a
``card_store.CardStore``): binary ``COPY``, with the duplicate check on a
second connection so the server stores one batch while the process checks
the next (``scripts/bench import`` measures it against a plain COPY).

Guarantees are the interface's (see ``card_store``). Raw statements go
around the ORM's tenant filter, so the tenant is written out here: into
every row written, and into the lookup's query.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from app.catalog.card_store import Lookup, NewCards, Write
from app.catalog.models import CARD_AVAILABLE
from app.extensions import db
from app.storefront import pagecache

#: the columns of ``cards`` an import fills, in the order COPY sends them
COPY_COLUMNS = (
    "id",
    "tenant_id",
    "product_id",
    "import_id",
    "status",
    "key_id",
    "secret",
    "fingerprint",
    "created_at",
)

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_TRAILER = b"\xff\xff"
_FP_ROW = struct.pack("!hi", 1, 32)
_pack_len = struct.Struct("!i").pack


def _field(value: bytes) -> bytes:
    return _pack_len(len(value)) + value


class CopyCardStore:
    """Binary COPY on PostgreSQL (psycopg 3)."""

    @contextmanager
    def fingerprint_lookup(self, tenant_id: uuid.UUID) -> Iterator[Lookup]:
        """On a second connection, so that it can be asked while the import's
        COPY streams on the first."""
        with db.engine.connect() as connection:
            conn = connection.connection.driver_connection
            try:
                with conn.cursor() as cursor:
                    cursor.execute(
                        "CREATE TEMPORARY TABLE import_fingerprints (fp bytea) ON COMMIT DROP"
                    )

                    def lookup(fingerprints: list[bytes]) -> set[bytes]:
                        return _existing_fingerprints(cursor, tenant_id, fingerprints)

                    yield lookup
            finally:
                connection.rollback()  # drops the temporary table

    @contextmanager
    def card_writer(self, cards: NewCards) -> Iterator[Write]:
        """One binary ``COPY`` on the session's own connection for the whole
        import, each batch encoded here in one piece (the bytes psycopg's
        ``write_row`` would send, at a fraction of the cost per row)."""
        row_head = struct.pack("!hi", len(COPY_COLUMNS), 16)
        constants = (
            cards.tenant_id.bytes,
            cards.product_id.bytes,
            cards.import_id.bytes,
            CARD_AVAILABLE.encode(),
            cards.key_id.encode(),
        )
        middle = b"".join(_field(v) for v in constants)
        micros = (cards.created_at - _PG_EPOCH) // timedelta(microseconds=1)
        tail = _field(struct.pack("!q", micros))
        fp_head = _pack_len(32)

        raw = db.session.connection().connection.driver_connection
        pagecache.touch(db.session(), cards.tenant_id)  # COPY goes around the session's events
        columns = ", ".join(COPY_COLUMNS)
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY cards ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
        ):

            def copy_rows(card_ids, secrets, fingerprints):
                parts: list[bytes] = []
                extend = parts.extend
                for card_id, secret, fp in zip(card_ids, secrets, fingerprints, strict=True):
                    extend(
                        (
                            row_head,
                            card_id,
                            middle,
                            _pack_len(len(secret)),
                            secret,
                            fp_head,
                            fp,
                            tail,
                        )
                    )
                copy.write(b"".join(parts))

            copy.write(_COPY_SIGNATURE)
            yield copy_rows
            copy.write(_COPY_TRAILER)


def _existing_fingerprints(cursor, tenant_id: uuid.UUID, fingerprints: list[bytes]) -> set[bytes]:
    # The fingerprints go into a temporary table by COPY; each is then looked
    # up in the shop's unique index. LATERAL ... LIMIT 1 keeps it a probe
    # per fingerprint: a hash join would read every card of the shop,
    # including the rows this import has written so far, for every batch.
    cursor.execute("TRUNCATE import_fingerprints")
    with cursor.copy("COPY import_fingerprints (fp) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_COPY_SIGNATURE + b"".join(_FP_ROW + fp for fp in fingerprints) + _COPY_TRAILER)
    cursor.execute(
        "SELECT f.fp FROM import_fingerprints f CROSS JOIN LATERAL"
        " (SELECT 1 FROM cards c WHERE c.tenant_id = %s AND c.fingerprint = f.fp LIMIT 1) hit",
        (tenant_id,),
        binary=True,
    )
    return {bytes(row[0]) for row in cursor}
