"""Operator endpoints of the supply API (对接): open or close it and manage
who may call it.

- ``GET /shop/supply`` (``supply.view``) and ``PATCH /shop/supply``
  ``{open}`` (``supply.manage``, the owner; audited);
- ``GET /supply/credentials`` (``supply.view``) lists credentials (paged,
  newest first, revoked ones too); ``POST`` (``supply.manage``) issues one
  for a shop account named by email and answers its secret once;
  ``PATCH /supply/credentials/{id}`` sets its callback URL; ``DELETE``
  revokes it. Another shop's id is 404.

Each endpoint parses, calls one function of ``app.supply.credentials``
and renders its result.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.auth import current_principal, require
from app.core.ids import id_or_404
from app.core.pagination import page_of
from app.supply import credentials
from app.supply.credentials_schemas import (
    SupplyCredentialCreate,
    SupplyCredentialIssued,
    SupplyCredentialPage,
    SupplyCredentialQuery,
    SupplyCredentialSchema,
    SupplyCredentialUpdate,
    SupplyOpenSchema,
)

blp = Blueprint("supply_credentials_api", __name__, description="Supply API credentials (对接)")
SECURED = [{"apiKey": []}]


def body(row: credentials.CredentialRow) -> dict:
    c = row.credential
    return {
        "id": c.id,
        "name": c.name,
        "key_id": c.key_id,
        "account_id": c.account_id,
        "email": row.email,
        "callback_url": c.callback_url,
        "created_at": c.created_at,
        "last_used_at": c.last_used_at,
        "revoked_at": c.revoked_at,
    }


@blp.route("/shop/supply")
class SupplySwitch(MethodView):
    @require("supply.view")
    @blp.response(200, SupplyOpenSchema)
    @blp.doc(security=SECURED)
    def get(self):
        """Whether the shop's supply API (``/supply/v1``) is open."""
        return {"open": credentials.supply_open()}

    @require("supply.manage")
    @blp.arguments(SupplyOpenSchema)
    @blp.response(200, SupplyOpenSchema)
    @blp.doc(security=SECURED)
    def patch(self, data):
        """Open or close the supply API. Closed, every signed request is
        refused (403 ``supply-closed``); credentials are kept."""
        return {"open": credentials.set_supply_open(data["open"], actor=current_principal().actor)}


@blp.route("/supply/credentials")
class Credentials(MethodView):
    @require("supply.view")
    @blp.arguments(SupplyCredentialQuery, location="query")
    @blp.response(200, SupplyCredentialPage)
    @blp.doc(security=SECURED)
    def get(self, args):
        """The shop's supply credentials, newest first (no secrets)."""
        rows, total = credentials.list_credentials(page=args["page"], per_page=args["per_page"])
        return page_of([body(r) for r in rows], total, args)

    @require("supply.manage")
    @blp.arguments(SupplyCredentialCreate)
    @blp.response(201, SupplyCredentialIssued)
    @blp.doc(security=SECURED)
    def post(self, data):
        """Issue a credential acting as the shop account with ``email`` (its
        tier price, its wallet). The answer holds the secret, shown once.
        Unknown account: 422; too many credentials: 409."""
        issued = credentials.issue_credential(
            email=data["email"],
            name=data["name"],
            callback_url=data.get("callback_url"),
            actor=current_principal().actor,
        )
        out = body(credentials.get_credential(issued.credential.id))
        return {**out, "secret": issued.secret}, 201


@blp.route("/supply/credentials/<credential_id>")
class Credential(MethodView):
    @require("supply.manage")
    @blp.arguments(SupplyCredentialUpdate)
    @blp.response(200, SupplyCredentialSchema)
    @blp.doc(security=SECURED)
    def patch(self, data, credential_id: str):
        """Set (or with null clear) where status callbacks go."""
        row = credentials.set_callback_url(
            id_or_404(credential_id, "No such supply credential."),
            data.get("callback_url"),
            actor=current_principal().actor,
        )
        return body(row)

    @require("supply.manage")
    @blp.response(204)
    @blp.doc(security=SECURED)
    def delete(self, credential_id: str):
        """Revoke the credential: its key is refused from now on."""
        credentials.revoke_credential(
            id_or_404(credential_id, "No such supply credential."),
            actor=current_principal().actor,
        )
