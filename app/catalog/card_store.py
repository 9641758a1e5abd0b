"""Where an import's new cards are stored: one small interface with two
implementations, so the import workflow (``catalog.imports``) is written
once and the database decides only how rows travel.

A ``CardStore`` offers two context managers, both in the current shop:

- ``fingerprint_lookup(tenant_id)`` gives ``lookup(fingerprints)``: which of
  them the shop already holds, in any product and status. It sees what
  other transactions have committed (the upload's own codes are caught as
  duplicates within the upload; a code another import commits meanwhile is
  refused by the unique index, and the import fails whole).
- ``card_writer(cards)`` gives ``write(ids, secrets, fingerprints)``: rows
  into ``cards`` as available stock of the product, in the session's
  transaction (the caller commits or rolls back; nothing of a failed import
  stays). Ids are 16 raw bytes; secrets the ciphertexts under ``key_id``.

Implementations: ``InsertCardStore`` below (any database: a query per 1,000
fingerprints, one multi-row INSERT per batch) and
``card_copy.CopyCardStore`` (PostgreSQL: binary COPY). ``imports`` picks
one in one place (``_card_store``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select

from app.catalog.models import CARD_AVAILABLE, Card
from app.extensions import db

#: lookup(fingerprints) -> the ones the shop already holds
Lookup = Callable[[list[bytes]], set[bytes]]
#: write(ids, secrets, fingerprints): one batch of new cards
Write = Callable[[list[bytes], list[bytes], list[bytes]], None]


@dataclass(frozen=True)
class NewCards:
    """What every card one import stores has in common."""

    tenant_id: uuid.UUID
    product_id: uuid.UUID
    import_id: uuid.UUID
    key_id: str
    created_at: datetime


class CardStore(Protocol):
    def fingerprint_lookup(self, tenant_id: uuid.UUID) -> AbstractContextManager[Lookup]: ...

    def card_writer(self, cards: NewCards) -> AbstractContextManager[Write]: ...


class InsertCardStore:
    """Through the session, on any database (SQLite in development and tests)."""

    @contextmanager
    def fingerprint_lookup(self, tenant_id: uuid.UUID) -> Iterator[Lookup]:
        # The session's queries are filtered to the current shop already.
        yield existing_fingerprints

    @contextmanager
    def card_writer(self, cards: NewCards) -> Iterator[Write]:
        insert = Card.__table__.insert()
        # A Core insert, around the ORM: the tenant is written into every row here.
        common = {
            "tenant_id": cards.tenant_id,
            "product_id": cards.product_id,
            "import_id": cards.import_id,
            "status": CARD_AVAILABLE,
            "key_id": cards.key_id,
            "created_at": cards.created_at,
        }

        def insert_rows(card_ids: list[bytes], secrets: list[bytes], fingerprints: list[bytes]):
            db.session.execute(
                insert,
                [
                    {**common, "id": uuid.UUID(bytes=card_id), "secret": secret, "fingerprint": fp}
                    for card_id, secret, fp in zip(card_ids, secrets, fingerprints, strict=True)
                ],
            )

        yield insert_rows


def existing_fingerprints(fingerprints: list[bytes]) -> set[bytes]:
    """Which of ``fingerprints`` the current shop already holds (any product)."""
    found: set[bytes] = set()
    for start in range(0, len(fingerprints), 1000):
        chunk = fingerprints[start : start + 1000]
        found.update(
            bytes(fp)
            for fp in db.session.scalars(
                select(Card.fingerprint).where(Card.fingerprint.in_(chunk))
            )
        )
    return found
