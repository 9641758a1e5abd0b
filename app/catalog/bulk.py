"""Products on or off sale in bulk (批量上架/下架): the console's list
acts on the products an operator ticked, in one statement.

Works in the current shop's context (the tenant guard limits the UPDATE to
its rows) and commits. The rule it keeps is the product's own
(``services``): a top-up with no input field is never put on sale.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from app.catalog.models import KIND_TOPUP, PRODUCT_STATUSES, STATUS_ON_SALE, Product
from app.core.errors import ValidationFailed
from app.extensions import db

INVALID = "The request has invalid fields; see 'errors'."

MAX_BULK = 500


@dataclass(frozen=True)
class StatusChange:
    """What a bulk status change did: how many products are now in the
    status, and the names of those left as they were (a top-up with no
    input field cannot go on sale)."""

    changed: int
    refused: list[str]


def set_products_status(product_ids: list[uuid.UUID], status: str) -> StatusChange:
    """Put the current shop's products among ``product_ids`` in ``status`` at
    once (批量上架/下架), in one UPDATE; ids of other shops' products or of
    nothing are ignored. Keeps the rule of ``update_product``: a top-up with
    no input field is not put on sale (named in ``refused``). At most
    ``MAX_BULK`` ids. Commits; repeating it changes nothing more."""
    if status not in PRODUCT_STATUSES:
        raise ValidationFailed(
            INVALID, errors={"status": [f"One of {', '.join(PRODUCT_STATUSES)}."]}
        )
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        raise ValidationFailed(
            "Choose at least one product.",
            errors={"ids": ["Choose at least one product."]},
            message=_l("Choose at least one product."),
        )
    if len(ids) > MAX_BULK:
        raise ValidationFailed(
            f"At most {MAX_BULK} products at once.",
            errors={"ids": [f"At most {MAX_BULK} products at once."]},
            message=_l("At most %(n)s products at once.", n=MAX_BULK),
        )
    rows = db.session.execute(
        select(Product.id, Product.name, Product.kind, Product.input_fields).where(
            Product.id.in_(ids)
        )
    ).all()

    def stays(row) -> bool:
        return status == STATUS_ON_SALE and row.kind == KIND_TOPUP and not row.input_fields

    refused = [row.name for row in rows if stays(row)]
    allowed = [row.id for row in rows if not stays(row)]
    if allowed:
        db.session.execute(
            update(Product)
            .where(Product.id.in_(allowed))
            .values(status=status, updated_at=func.now())
            .execution_options(synchronize_session="fetch")
        )
    db.session.commit()
    return StatusChange(len(allowed), refused)
