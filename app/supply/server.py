"""The supply API (对接接口) every shop exposes at ``/supply/v1/`` once its
operator opens it: a docking partner (another shop on this platform or
another, or any reseller speaking the protocol) reads the catalogue at its
own price and buys, paying from its wallet here.

It sits outside the ``/api/v1`` bearer gate: every request is signed with
a supply credential (``app.supply.signing``; the ``supplySignature``
security scheme of the OpenAPI document says how) and this module's gate
checks it before any endpoint runs, in this order:

- headers missing or malformed: 401 ``supply-signature-missing``; a
  protocol version not served: 400 ``supply-protocol-unsupported``;
- a key unknown to this shop (another shop's, or revoked): 401
  ``supply-key-unknown``;
- a timestamp outside the window: 401 ``supply-request-stale``; a wrong
  signature: 401 ``supply-signature-invalid``;
- a nonce seen within the window: 409 ``supply-nonce-replayed`` (nonces
  live in Redis for the window; Redis down: 503 ``unavailable``);
- more than ``SUPPLY_RATE_PER_MINUTE`` requests of one credential in a
  minute: 429 ``rate-limited`` (counted with the nonce, one Redis round
  trip);
- the shop's supply API closed: 403 ``supply-closed``.

Bodies are at most ``MAX_BODY`` bytes (413). Every answer, errors
included, is JSON (problem documents) and carries ``X-Kameng-Protocol``.
Each endpoint parses, calls one function of ``app.supply.purchases`` and
renders its result.

A published protocol version stays served: answers may gain fields, never
lose or change one; a new required request field needs a new version
(``tests/supply/test_protocol_v1.py`` is a frozen version-1 client).
"""

from __future__ import annotations

import time

from flask import Flask, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.core.errors import KamengError, RateLimited, UnknownShop
from app.core.problems import problem_response
from app.core.redisconn import get_redis
from app.supply import credentials, purchases, signing
from app.supply.server_schemas import (
    SupplyCataloguePage,
    SupplyCatalogueQuery,
    SupplyProductSchema,
    SupplyPurchaseCreate,
    SupplyPurchaseQuery,
    SupplyPurchaseSchema,
)
from tenants.context import current_tenant_id

PREFIX = "/supply/v1"
#: the largest request body read (a purchase is a few hundred bytes)
MAX_BODY = 64 * 1024
SECURED = [{"supplySignature": []}]

blp = Blueprint(
    "supply_api",
    __name__,
    description="The supply API (对接): what docking partners buy from this shop. "
    "Every request is signed (see the supplySignature security scheme).",
)


class SignatureMissing(KamengError):
    status = 401
    slug = "supply-signature-missing"
    title = "The request is not signed"


class KeyUnknown(KamengError):
    status = 401
    slug = "supply-key-unknown"
    title = "The supply key is unknown or revoked"


class RequestStale(KamengError):
    status = 401
    slug = "supply-request-stale"
    title = "The request's timestamp is outside the allowed window"


class SignatureInvalid(KamengError):
    status = 401
    slug = "supply-signature-invalid"
    title = "The request's signature does not match"


class NonceReplayed(KamengError):
    status = 409
    slug = "supply-nonce-replayed"
    title = "The request's nonce was already used"


class ProtocolUnsupported(KamengError):
    status = 400
    slug = "supply-protocol-unsupported"
    title = "The protocol version is not supported"


class SupplyClosed(KamengError):
    status = 403
    slug = "supply-closed"
    title = "This shop's supply API is closed"


class BodyTooLarge(KamengError):
    status = 413
    slug = "supply-body-too-large"
    title = "The request body is too large"


PROBLEMS = {
    "missing": SignatureMissing,
    "malformed": SignatureMissing,
    "version": ProtocolUnsupported,
    "stale": RequestStale,
    "signature": SignatureInvalid,
    "replayed": NonceReplayed,
}


def _refuse(err: KamengError):
    headers = {"WWW-Authenticate": 'KamengSignature realm="supply"'} if err.status == 401 else None
    problem = err.to_problem(instance=request.path)
    if isinstance(err, ProtocolUnsupported):
        problem["supported_versions"] = list(signing.SUPPORTED_VERSIONS)
    return problem_response(problem, headers)


def signed_path() -> str:
    """The path the caller signed: the path with its query string."""
    query = request.query_string.decode("latin-1")
    return request.path + ("?" + query if query else "")


def _nonce_and_rate(key_id: str, nonce: str) -> tuple[bool, int]:
    """Record the nonce for the window and count the credential's request
    in the current minute, in one round trip: (the nonce is new, requests
    this minute)."""
    tenant = current_tenant_id()
    minute = int(time.time() // 60)
    counter = f"kameng:supply:rate:{tenant}:{key_id}:{minute}"
    pipe = get_redis().pipeline(transaction=False)
    pipe.set(
        f"kameng:supply:nonce:{tenant}:{key_id}:{nonce}", "1", nx=True, ex=signing.WINDOW_SECONDS
    )
    pipe.incr(counter)
    pipe.expire(counter, 120)
    fresh, count, _ = pipe.execute()
    return bool(fresh), int(count)


@blp.before_request
def _authenticate():
    """The gate: a signed, fresh, first-seen request of a live credential
    to an open shop, or a problem document."""
    if g.get("site") != "shop":
        return _refuse(UnknownShop("The supply API answers on a shop's host."))
    if (request.content_length or 0) > MAX_BODY:
        return _refuse(BodyTooLarge(f"At most {MAX_BODY} bytes."))
    body = request.get_data(cache=True)
    if len(body) > MAX_BODY:
        return _refuse(BodyTooLarge(f"At most {MAX_BODY} bytes."))
    try:
        signed = signing.read_headers(request.headers)
    except signing.SignatureProblem as problem:
        return _refuse(PROBLEMS[problem.reason](problem.detail))
    credential, supply_open = credentials.credential_and_open(signed.key_id)
    if credential is None:
        return _refuse(KeyUnknown("No live supply credential of this shop has this key."))
    try:
        signing.verify(
            signed, credentials.secret_of(credential), request.method, signed_path(), body
        )
    except signing.SignatureProblem as problem:
        return _refuse(PROBLEMS[problem.reason](problem.detail))
    fresh, count = _nonce_and_rate(signed.key_id, signed.nonce)
    if not fresh:
        return _refuse(NonceReplayed("Send each request with a new nonce."))
    allowed = int(current_app.config.get("SUPPLY_RATE_PER_MINUTE", 600))
    if count > allowed:
        return _refuse(
            RateLimited(f"At most {allowed} requests a minute per supply key; wait a little.")
        )
    if not supply_open:
        return _refuse(SupplyClosed("The shop has not opened its supply API."))
    credentials.touch(credential)
    g.supply_credential = credential
    return None


def _product_body(found: purchases.Offer) -> dict:
    view = found.product
    return {
        "sku": str(view.id),
        "name": view.name,
        "kind": view.kind,
        "price": found.price,
        "currency": found.currency,
        "stock": view.stock,
        "min_quantity": view.min_quantity,
        "max_quantity": view.max_quantity,
        "input_fields": list(view.input_fields or []),
    }


@blp.route("/catalogue")
class Catalogue(MethodView):
    @blp.arguments(SupplyCatalogueQuery, location="query")
    @blp.response(200, SupplyCataloguePage)
    @blp.doc(security=SECURED)
    def get(self, args):
        """The products on sale, at the caller's price (its account's tier),
        with stock (cards) and the inputs a purchase needs; paged."""
        offers, total = purchases.catalogue(
            g.supply_credential.account_id, page=args["page"], per_page=args["per_page"]
        )
        return {
            "items": [_product_body(o) for o in offers],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
        }


@blp.route("/products/<sku>")
class ProductOffer(MethodView):
    @blp.response(200, SupplyProductSchema)
    @blp.doc(security=SECURED)
    def get(self, sku: str):
        """One product on sale at the caller's price (404 otherwise)."""
        return _product_body(purchases.offer(g.supply_credential.account_id, sku))


@blp.route("/purchases")
class Purchases(MethodView):
    @blp.arguments(SupplyPurchaseCreate)
    @blp.response(201, SupplyPurchaseSchema)
    @blp.alt_response(
        200, schema=SupplyPurchaseSchema, description="A replay of the same purchase."
    )
    @blp.doc(security=SECURED)
    def post(self, data):
        """Buy, paying from the caller's wallet here at its price.

        Idempotent by ``key``: the same key and body answer the first
        purchase (200) and pay nothing more; another body with that key is
        409 ``idempotency-key-reused``. Not enough balance: 402
        ``insufficient-funds``, and the same key buys once the wallet is
        topped up (a card from stock keeps nothing; other goods wait under
        the key and are paid when asked again). Sold out: 409
        ``out-of-stock``, nothing kept. Cards from stock are created, paid
        and delivered in one transaction and answer ``delivered`` with
        their codes; top-ups and manual goods answer ``pending`` and follow
        by callback or ``GET /supply/v1/purchases/{ref}``."""
        found, created = purchases.buy(
            g.supply_credential,
            sku=data["sku"],
            quantity=data["quantity"],
            inputs=data.get("inputs"),
            key=data["key"],
        )
        return purchases.answer(found), 201 if created else 200

    @blp.arguments(SupplyPurchaseQuery, location="query")
    @blp.response(200, SupplyPurchaseSchema)
    @blp.doc(security=SECURED)
    def get(self, args):
        """The caller's purchase made with ``?key=`` (404 for any other)."""
        return purchases.answer(purchases.find_purchase(g.supply_credential, key=args.get("key")))


@blp.route("/purchases/<ref>")
class Purchase(MethodView):
    @blp.response(200, SupplyPurchaseSchema)
    @blp.doc(security=SECURED)
    def get(self, ref: str):
        """The caller's purchase with this order number (404 for any other:
        another credential's or an order not bought through this API)."""
        return purchases.answer(purchases.find_purchase(g.supply_credential, ref=ref))


SIGNATURE_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": signing.H_SIGNATURE,
    "description": (
        "Every request to /supply/v1/ carries five headers: "
        f"`{signing.H_PROTOCOL}` (the protocol version; served: "
        f"{', '.join(signing.SUPPORTED_VERSIONS)}), `{signing.H_KEY}` (the credential's "
        f"public key id, ks_…), `{signing.H_TIMESTAMP}` (Unix seconds; refused more than "
        f"{signing.WINDOW_SECONDS} s from the server's clock), `{signing.H_NONCE}` (16 to 64 "
        "characters of A-Z a-z 0-9 _ -, used once) and "
        f"`{signing.H_SIGNATURE}`: lowercase hex HMAC-SHA256, keyed by the credential's "
        "secret, of `version \\n METHOD \\n path?query \\n timestamp \\n nonce \\n "
        "hex SHA-256 of the body` (lines joined by a newline; an empty body hashes the "
        "empty string). Status callbacks to the credential's callback URL are signed the "
        "same way with the same secret: a POST of `{ref, key, status, codes?}`."
    ),
}


def init_supply_api(app: Flask, api, csrf) -> None:
    """Register the supply API at ``/supply/v1`` (outside the bearer gate,
    CSRF-exempt: the signature authenticates), its security scheme, and
    the protocol header on every answer under it."""
    api.spec.components.security_scheme("supplySignature", SIGNATURE_SCHEME)
    api.register_blueprint(blp, url_prefix=PREFIX)
    csrf.exempt(blp)

    @app.after_request
    def _protocol_header(response):
        if request.path.startswith(PREFIX + "/") or request.path == PREFIX:
            response.headers[signing.H_PROTOCOL] = signing.PROTOCOL_VERSION
        return response
