"""Accounts endpoints: who am I, the shop's accounts, operator API keys."""

from __future__ import annotations

import hashlib
import uuid

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts import services, standing
from app.accounts.auth import current_principal, require
from app.accounts.schemas import (
    AccountPage,
    AccountPatch,
    AccountQuery,
    AccountSchema,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeySchema,
    MeSchema,
    WalletAdjustmentCreate,
    WalletAdjustmentSchema,
)
from app.core.errors import Unauthorized
from app.core.ids import id_or_404
from app.core.pagination import page_of
from app.ledger.adjustments import adjust_wallet

blp = Blueprint("accounts_api", __name__, description="Accounts and API keys")
SECURED = [{"apiKey": []}]
ADJUSTMENT_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "maxLength": 120},
    "required": False,
    "description": "The same caller with the same key moves the money once: a repeat answers "
    "200 with made false; the key with another account or amount is refused (409).",
}


def adjustment_form_key(principal, key: str | None) -> str:
    """The adjustment's idempotency key: the caller's ``Idempotency-Key``
    (scoped to the caller, so two callers' keys never meet), else a new one."""
    key = (key or "").strip()[:120]
    if not key:
        return uuid.uuid4().hex
    scoped = f"{principal.kind}:{principal.id}:{key}".encode()
    return "api-" + hashlib.sha256(scoped).hexdigest()[:48]


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    @blp.doc(security=SECURED)
    def get(self):
        """Who the request is authenticated as, with roles and permissions."""
        principal = current_principal()
        if not principal.is_authenticated:
            raise Unauthorized()
        return {
            "kind": principal.kind,
            "id": principal.id,
            "email": principal.email,
            "roles": sorted(principal.roles),
            "permissions": sorted(principal.permissions()),
        }


@blp.route("/accounts")
class Accounts(MethodView):
    @require("accounts.view")
    @blp.arguments(AccountQuery, location="query")
    @blp.response(200, AccountPage)
    @blp.doc(security=SECURED)
    def get(self, args):
        """The shop's buyer, agent and supplier accounts, newest first."""
        rows, total = services.list_shop_accounts(
            role=args.get("role"), page=args["page"], per_page=args["per_page"]
        )
        return page_of(rows, total, args)


@blp.route("/accounts/<account_id>")
class Account(MethodView):
    @require("accounts.view")
    @blp.response(200, AccountSchema)
    @blp.doc(security=SECURED)
    def get(self, account_id):
        """One account of this shop."""
        return services.get_shop_account(id_or_404(account_id))

    @require("accounts.manage")
    @blp.arguments(AccountPatch)
    @blp.response(200, AccountSchema)
    @blp.doc(security=SECURED)
    def patch(self, data, account_id):
        """Change an account's role (customer, agent, supplier), agent tier
        (null: retail prices), upline (null: none; an active agent of this
        shop, not the account itself nor one of its downline, within the
        shop's ``agent_depth``), name or active flag. Audited."""
        return standing.update_account(id_or_404(account_id), data, actor=current_principal().actor)


@blp.route("/accounts/<account_id>/wallet/adjustments")
class WalletAdjustments(MethodView):
    @require("accounts.manage")
    @blp.arguments(WalletAdjustmentCreate)
    @blp.response(201, WalletAdjustmentSchema)
    @blp.alt_response(
        200, schema=WalletAdjustmentSchema, description="A replay of the same Idempotency-Key."
    )
    @blp.doc(security=SECURED, parameters=[ADJUSTMENT_KEY])
    def post(self, data, account_id):
        """Add to (positive ``amount``) or take from (negative) the account's
        wallet, with a ``reason`` the customer sees: one ledger transaction,
        on the audit record. A balance never goes below zero (402
        ``insufficient-funds``)."""
        principal = current_principal()
        done = adjust_wallet(
            id_or_404(account_id),
            data["amount"],
            data["reason"],
            actor=principal.actor,
            form_key=adjustment_form_key(principal, request.headers.get("Idempotency-Key")),
            currency=g.shop.currency,
        )
        return done, 201 if done.made else 200


@blp.route("/api-keys")
class ApiKeys(MethodView):
    @require("apikeys.manage")
    @blp.response(200, ApiKeyList)
    @blp.doc(security=SECURED)
    def get(self):
        """The shop's API keys (prefix only; the secret is never shown again)."""
        return {"items": services.list_api_keys()}

    @require("apikeys.manage")
    @blp.arguments(ApiKeyCreate)
    @blp.response(201, ApiKeyCreated)
    @blp.doc(security=SECURED)
    def post(self, data):
        """Create a key. The answer's ``key`` is shown this once."""
        principal = current_principal()
        created_by = principal.id if principal.kind == "platform_user" else None
        key, plaintext = services.create_api_key(data["name"], created_by, data["role"])
        # Raw values, not a dump: the response schema serialises them once.
        body = {name: getattr(key, name) for name in ApiKeySchema().fields}
        body["key"] = plaintext
        return body


@blp.route("/api-keys/<key_id>")
class ApiKeyItem(MethodView):
    @require("apikeys.manage")
    @blp.response(200, ApiKeySchema)
    @blp.doc(security=SECURED)
    def delete(self, key_id):
        """Revoke a key. Idempotent; the key stops working at once."""
        return services.revoke_api_key(id_or_404(key_id))
