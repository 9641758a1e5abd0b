"""Status callbacks to docking partners (对接回调): when an order bought
through the supply API is delivered, fails or is refunded, a signed POST of
``{ref, key, status, sku, quantity, price, currency, codes?}`` goes to its
credential's callback URL, signed with that credential's secret exactly
as the partner signs its requests (``app.supply.signing``), so the partner
checks it with its copy.

- ``watch`` runs inside ``orders.state.transition`` (the caller's
  transaction): one indexed query, and only for orders that are supply
  purchases with a callback URL; the job is enqueued after that
  transaction commits (never for a transition that was rolled back).
- ``send_callback`` (RQ, ``sync`` queue, retried with back-off) posts the
  purchase's current status and records it as told
  (``SupplyPurchase.notified_status``): a status already told is not sent
  again, a later one is. Delivery is at least once; the partner matches on
  ``key`` and ``status``.
"""

from __future__ import annotations

import http.client
import json
import logging
import uuid
from urllib.parse import urlsplit

from flask import current_app
from rq import Retry
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from app.core import outbound
from app.core.queues import get_queue
from app.extensions import db
from app.orders import lookups
from app.orders.models import DELIVERED, FAILED, REFUNDED
from app.supply import credentials, purchases, signing
from app.supply.models import SupplyCredential, SupplyPurchase
from tenants.context import current_tenant_id, tenant_context

log = logging.getLogger(__name__)

JOB = "app.supply.callbacks.send_callback"
#: the order statuses a partner is told of
TOLD_STATES = (DELIVERED, FAILED, REFUNDED)
#: seconds between tries of a callback the partner did not take
RETRY_INTERVALS = [10, 30, 120, 600, 1800, 3600]
_PENDING = "kameng_supply_callbacks"


class CallbackRefused(RuntimeError):
    """The partner's server did not take the callback (the job is retried)."""


def watch(order_id: uuid.UUID, to: str) -> None:
    """Called in the transaction that moves ``order_id`` to ``to``: when it
    is a supply purchase with a callback URL, its callback is queued once
    the transaction commits."""
    if to not in TOLD_STATES:
        return
    wanted = db.session.scalar(
        select(SupplyPurchase.id)
        .join(SupplyCredential, SupplyCredential.id == SupplyPurchase.credential_id)
        .where(
            SupplyPurchase.order_id == order_id,
            SupplyCredential.callback_url.is_not(None),
            SupplyCredential.revoked_at.is_(None),
        )
        .limit(1)
    )
    if wanted is not None:
        tell_after_commit(order_id)


def tell_after_commit(order_id: uuid.UUID) -> None:
    """Queue ``order_id``'s callback once the current transaction commits
    (never if it is rolled back). For a caller that already knows the order
    is a supply purchase whose credential has a callback URL (``watch``, or
    a purchase delivered in the request that bought it)."""
    db.session.info.setdefault(_PENDING, set()).add((current_tenant_id(), order_id))


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session) -> None:
    for tenant_id, order_id in session.info.pop(_PENDING, ()):
        enqueue(tenant_id, order_id)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session) -> None:
    session.info.pop(_PENDING, None)


def enqueue(tenant_id: uuid.UUID, order_id: uuid.UUID) -> None:
    """Queue the callback of ``order_id`` on ``sync`` (retried with back-off).
    A lost enqueue (Redis down) loses one notice; the partner can still poll
    ``GET /supply/v1/purchases/{ref}``."""
    try:
        get_queue("sync").enqueue(
            JOB,
            str(tenant_id),
            str(order_id),
            retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
        )
    except Exception:  # noqa: BLE001 - the partner can poll
        log.warning("order %s: supply callback not enqueued", order_id)


def send_callback(tenant_id: str, order_id: str) -> str:
    """``sync`` queue: tell the partner the purchase's status (see the
    module's docs). Raises ``CallbackRefused`` for RQ to retry."""
    with tenant_context(uuid.UUID(tenant_id)):
        try:
            return tell_partner(uuid.UUID(order_id))
        finally:
            db.session.remove()


def tell_partner(order_id: uuid.UUID) -> str:
    """Post the purchase's status to its credential's callback URL unless it
    is not final or was already told; in the current shop. Returns what it
    did; ``CallbackRefused`` when the partner did not answer 2xx."""
    row = db.session.execute(
        select(SupplyPurchase, SupplyCredential)
        .join(SupplyCredential, SupplyCredential.id == SupplyPurchase.credential_id)
        .where(SupplyPurchase.order_id == order_id)
    ).first()
    if row is None:
        return "not a supply purchase"
    purchase, credential = row
    if credential.callback_url is None or credential.revoked_at is not None:
        return "no callback URL"
    view = purchases.purchase_view(lookups.get_order_by_id(order_id), purchase.caller_key)
    if view.status not in purchases.FINAL_STATUSES:
        return "not final"
    if purchase.notified_status == view.status:
        return "already told"
    body = json.dumps(purchases.answer(view), separators=(",", ":")).encode()
    url = credential.callback_url
    parts = urlsplit(url)
    path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    headers = signing.sign(credential.key_id, credentials.secret_of(credential), "POST", path, body)
    _post(url, body, headers)
    db.session.execute(
        update(SupplyPurchase)
        .where(SupplyPurchase.id == purchase.id)
        .values(notified_status=view.status)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return "told " + view.status


def _post(url: str, body: bytes, headers: dict) -> None:
    """POST the callback; a redirect is an answer the partner must fix, not
    one to follow. The address is checked like a supplier's
    (``app.core.outbound``): never a private one in production."""
    timeout = float(current_app.config.get("SUPPLY_READ_TIMEOUT", 10))
    parts = urlsplit(url)
    path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    try:
        conn = outbound.connection(parts.scheme, parts.hostname or "", parts.port, timeout)
        try:
            conn.request("POST", path, body=body, headers=headers)
            status = conn.getresponse().status
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise CallbackRefused(f"{url}: {err}") from None
    if not 200 <= status < 300:
        raise CallbackRefused(f"{url}: HTTP {status}")
