"""The two audited ways an operator sees card codes: one card
(``reveal_card``) or a product's available stock as text
(``export_codes``). Current shop only.

Guarantee: no audit row, no code. Each writes its audit row and commits it
before the code leaves this module; a failed commit shows nothing. Codes are
shown as ``number`` or ``number----password`` (``codes.shown_code``), the
form an import reads back as the same card. Seeing a code changes no stock.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.audit import services as audit
from app.catalog.card_reads import get_card_product, short_fingerprint
from app.catalog.codes import shown_code, split_card_secret
from app.catalog.models import CARD_AVAILABLE, Card
from app.core.crypto import get_cipher
from app.core.errors import NotFound
from app.extensions import db


def reveal_card(card_id: uuid.UUID, actor: str) -> dict:
    """One card's code for the operator, with an audit row written and
    committed first: no audit row, no code. Raises ``NotFound``."""
    card = db.session.scalar(select(Card).where(Card.id == card_id))
    if card is None:
        raise NotFound("No such card.")
    secret = get_cipher().decrypt(card.id, card.key_id, card.secret)
    audit.record(
        actor,
        "card.reveal",
        f"card:{card.id}",
        product_id=str(card.product_id),
        status=card.status,
        fingerprint=short_fingerprint(card.fingerprint),
    )
    db.session.commit()
    number, password = split_card_secret(secret)
    return {
        "id": card.id,
        "product_id": card.product_id,
        "status": card.status,
        "code": shown_code(secret),
        "number": number,
        "password": password,
    }


def export_codes(product_id: uuid.UUID, actor: str, limit: int | None = None) -> tuple[str, int]:
    """The product's available codes as text, one per line (``number`` or
    ``number----password``, oldest first, as an import reads them back),
    and how many. The audit row is committed before the text is returned.
    Exporting does not take the codes out of stock."""
    get_card_product(product_id)
    query = (
        select(Card.id, Card.key_id, Card.secret)
        .where(Card.product_id == product_id, Card.status == CARD_AVAILABLE)
        .order_by(Card.id)
    )
    if limit:
        query = query.limit(limit)
    decrypt = get_cipher().decrypt
    lines = [shown_code(decrypt(r.id, r.key_id, r.secret)) for r in db.session.execute(query)]
    audit.record(
        actor, "cards.export", f"product:{product_id}", count=len(lines), status=CARD_AVAILABLE
    )
    db.session.commit()
    return ("\n".join(lines) + "\n" if lines else ""), len(lines)
