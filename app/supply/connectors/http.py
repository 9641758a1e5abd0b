"""The supply protocol's client: a supplier of kind ``http`` (an external
API speaking our protocol) or ``platform`` (another Kameng shop's
``/supply/v1/``). Every request is signed (``app.supply.signing``) with our
credential at the upstream; its secret is opened only for the signature
and never logged.

Endpoints, relative to the supplier's ``base_url``:

- ``GET /catalogue?page=N``: the offers, paged;
- ``GET /products/{sku}``: one offer;
- ``POST /purchases`` ``{sku, quantity, inputs, key}``: buy, idempotent by
  ``key``; delivered codes are texts, or ``{code, password}`` objects as a
  Kameng shop answers them;
- ``GET /purchases?key=...``: what the purchase made with ``key`` became.

How answers map to outcomes (``SupplyError.outcome``):

- no connection, a connect or read timeout, a 5xx: ``timeout`` — the
  upstream may or may not have acted; ask again with the same key;
- a 4xx problem document (refused, insufficient funds, a key reused with
  another body): ``failed`` — try the next source;
- an answer that is too large, not JSON or not of the expected shape:
  ``garbage``.

The standard library's ``http.client`` carries the requests: a separate
connect and read timeout (``SUPPLY_CONNECT_TIMEOUT``, ``SUPPLY_READ_TIMEOUT``)
and a bounded read of the answer need nothing more.
"""

from __future__ import annotations

import http.client
import json
import logging
from urllib.parse import quote, urlencode, urlsplit

from flask import current_app

from app.catalog.codes import join_card_secret
from app.core import outbound
from app.core.crypto import get_cipher
from app.supply import signing
from app.supply.connectors.base import DELIVERED, FAILED, PENDING, Offer, Purchase, SupplyError

log = logging.getLogger(__name__)

#: the largest answer read from an upstream (a catalogue page included)
MAX_ANSWER_BYTES = 1_000_000
#: catalogue pages read at most (a runaway ``next`` stops here)
MAX_CATALOGUE_PAGES = 100
#: the upstream's statuses of a purchase, and what they are to us
_STATUSES = {"delivered": DELIVERED, "pending": PENDING, "failed": FAILED, "refunded": FAILED}
_KINDS = ("card", "topup", "manual")


class HttpConnector:
    """One supplier's API (``Supplier`` row of kind ``http`` or ``platform``)."""

    kind = "http"

    def __init__(self, supplier) -> None:
        if not supplier.base_url or not supplier.key_id or not supplier.secret:
            raise SupplyError(FAILED, "The supplier has no address or credentials.")
        parts = urlsplit(supplier.base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SupplyError(FAILED, "The supplier's address is not an http(s) URL.")
        self.supplier_id = supplier.id
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.prefix = parts.path
        self.key_id = supplier.key_id
        self._sealed = (supplier.id, supplier.secret_key_id, supplier.secret)
        config = current_app.config
        self.connect_timeout = float(config.get("SUPPLY_CONNECT_TIMEOUT", 3))
        self.read_timeout = float(config.get("SUPPLY_READ_TIMEOUT", 10))

    # --- the interface ----------------------------------------------------------

    def catalogue(self) -> list[Offer]:
        offers: list[Offer] = []
        for page in range(1, MAX_CATALOGUE_PAGES + 1):
            body = self._call("GET", f"/catalogue?{urlencode({'page': page})}")
            if isinstance(body, list):
                items, more = body, False
            elif isinstance(body, dict) and isinstance(body.get("items"), list):
                items = body["items"]
                more = bool(body.get("next")) or bool(body.get("has_next"))
                total, size = body.get("total"), body.get("per_page")
                if isinstance(total, int) and isinstance(size, int) and size > 0:
                    more = more or page * size < total  # our own server's page shape
            else:
                raise SupplyError("garbage", "The catalogue is not a list of offers.")
            offers.extend(_offer(item) for item in items)
            if not more or not items:
                break
        return offers

    def offer(self, sku: str) -> Offer:
        return _offer(self._call("GET", f"/products/{quote(str(sku), safe='')}"))

    def purchase(self, sku: str, quantity: int, inputs: dict, key: str) -> Purchase:
        body = {"sku": str(sku), "quantity": int(quantity), "inputs": inputs or {}, "key": key}
        return _purchase(self._call("POST", "/purchases", body))

    def status(self, key: str) -> Purchase:
        return _purchase(self._call("GET", f"/purchases?{urlencode({'key': key})}"))

    # --- the wire -----------------------------------------------------------------

    def _secret(self) -> str:
        row_id, kid, blob = self._sealed
        return get_cipher().decrypt(row_id, kid, blob)

    def _call(self, method: str, path: str, payload: dict | None = None):
        """Send a signed request; the answer's JSON, or ``SupplyError``."""
        full = f"{self.prefix}{path}"
        data = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else b""
        headers = signing.sign(self.key_id, self._secret(), method, full, data)
        headers["Accept"] = "application/json"
        try:
            conn = outbound.connection(self.scheme, self.host, self.port, self.connect_timeout)
        except OSError as exc:  # blocked or unresolvable: nothing was sent
            raise SupplyError(FAILED, f"{method} {path}: {exc}.") from None
        try:
            try:
                conn.connect()
                conn.sock.settimeout(self.read_timeout)
                conn.request(method, full, body=data or None, headers=headers)
                response = conn.getresponse()
                raw = response.read(MAX_ANSWER_BYTES + 1)
            except TimeoutError:
                raise SupplyError("timeout", f"{method} {path}: no answer in time.") from None
            except (OSError, http.client.HTTPException) as exc:
                raise SupplyError("timeout", f"{method} {path}: {type(exc).__name__}") from None
        finally:
            conn.close()
        status = response.status
        if status >= 500:
            raise SupplyError("timeout", f"{method} {path}: the upstream answered {status}.")
        if len(raw) > MAX_ANSWER_BYTES:
            raise SupplyError("garbage", f"{method} {path}: the answer is too large.")
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            body = _NOT_JSON
        if status >= 400:
            raise SupplyError(FAILED, _problem_text(status, body))
        if body is _NOT_JSON or body is None:
            raise SupplyError("garbage", f"{method} {path}: the answer is not JSON.")
        return body


_NOT_JSON = object()


def _problem_text(status: int, body) -> str:
    """What a refusal says: the problem document's type and detail."""
    if isinstance(body, dict):
        kind = str(body.get("type") or body.get("title") or "")[:120]
        detail = str(body.get("detail") or "")[:160]
        return f"{status} {kind}: {detail}".strip(": ")
    return f"The upstream refused ({status})."


def _text(item: dict, name: str, limit: int, required: bool = True) -> str:
    value = item.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
        raise SupplyError("garbage", f"The answer's {name} is missing or not text.")
    return str(value)[:limit]


def _amount(item: dict, name: str, required: bool = True) -> int | None:
    value = item.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SupplyError("garbage", f"The answer's {name} is not a whole amount.")
    return value


def _offer(item) -> Offer:
    if not isinstance(item, dict):
        raise SupplyError("garbage", "An offer is not an object.")
    kind = item.get("kind")
    if kind not in _KINDS:
        raise SupplyError("garbage", "An offer's kind is unknown.")
    stock = item.get("stock")
    if stock is not None and (not isinstance(stock, int) or isinstance(stock, bool) or stock < 0):
        raise SupplyError("garbage", "An offer's stock is not a count.")
    currency = _text(item, "currency", 3)
    return Offer(
        sku=_text(item, "sku", 120),
        name=_text(item, "name", 120),
        kind=kind,
        price=_amount(item, "price"),
        currency=currency.upper(),
        stock=stock,
        on_sale=item.get("on_sale", True) is not False,
    )


def _code(item) -> str:
    """One delivered code: a text, or our own server's ``{code, password}``
    (a card's number and password, stored as the card's secret)."""
    if isinstance(item, dict):
        number, password = item.get("code"), item.get("password")
        if password is not None and (not isinstance(password, str) or "\t" in password):
            raise SupplyError("garbage", "A code's password is not text.")
        if isinstance(number, str) and number and "\t" not in number:
            return join_card_secret(number, password or None)
    elif isinstance(item, str) and item:
        return item
    raise SupplyError("garbage", "The purchase's codes are not a list of texts.")


def _purchase(body) -> Purchase:
    if not isinstance(body, dict):
        raise SupplyError("garbage", "The purchase is not an object.")
    status = _STATUSES.get(body.get("status"))
    if status is None:
        raise SupplyError("garbage", "The purchase's status is unknown.")
    raw_codes = body.get("codes") or []
    if not isinstance(raw_codes, list):
        raise SupplyError("garbage", "The purchase's codes are not a list of texts.")
    codes = [_code(c) for c in raw_codes]
    if len(codes) > 1000 or any(len(c) > 500 for c in codes):
        raise SupplyError("garbage", "The purchase's codes are too many or too long.")
    ref = body.get("ref")
    return Purchase(
        status=status,
        ref=str(ref)[:120] if isinstance(ref, str | int) and not isinstance(ref, bool) else None,
        codes=list(codes),
        price=_amount(body, "price", required=False),
        detail=str(body.get("detail") or "")[:300],
    )
