"""The agent's own endpoints (``/api/v1/me/...``): its API keys, commission,
downline, invite link, sub-shop (分站) and tier.

They answer a signed-in agent (session, CSRF on writes) or the agent's own
key, in the current shop only. The tier endpoints answer customers too (a
tier makes a customer an agent). A key cannot make keys: creating one needs
a session, so a leaked key, once revoked, stays revoked.
"""

from __future__ import annotations

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts import agent_keys
from app.accounts import services as accounts
from app.accounts.auth import current_principal, require
from app.agents import downline, earnings, invites, sub_shop_settings, upgrades
from app.agents.me_schemas import (
    AgentKeyCreate,
    AgentKeyCreated,
    AgentKeyList,
    AgentKeySchema,
    CommissionPage,
    CommissionQuery,
    DownlinePage,
    DownlineQuery,
    InviteSchema,
    SubShopPut,
    SubShopSchema,
    TierOfferSchema,
    TierRequest,
    TierResult,
)
from app.core.errors import Forbidden, NotFound
from app.core.ids import id_or_404
from app.core.pagination import page_of
from app.ledger import services as ledger

blp = Blueprint(
    "agent_self_api",
    __name__,
    description="The agent's own side: API keys, commission, downline, sub-shop, tier",
)
SECURED = [{"apiKey": []}]


def _me():
    return current_principal().shop_account_id


def sub_shop_url(code: str) -> str:
    """The sub-shop's address on this shop's host."""
    return f"{request.url_root.rstrip('/')}/s/{code}"


def _sub_shop_body(sub_shop) -> dict:
    body = {
        name: getattr(sub_shop, name)
        for name in ("code", "title", "notice", "markups", "created_at", "updated_at")
    }
    body["url"] = sub_shop_url(sub_shop.code)
    return body


def _tier_body(tier) -> dict | None:
    if tier is None:
        return None
    return {"id": tier.id, "name": tier.name, "rank": tier.rank}


@blp.route("/me/api-keys")
class AgentKeys(MethodView):
    @require("agent.centre")
    @blp.response(200, AgentKeyList)
    @blp.doc(security=SECURED)
    def get(self):
        """The agent's live API keys (prefix only; a key is shown once)."""
        return {"items": agent_keys.list_agent_keys(_me())}

    @require("agent.centre")
    @blp.arguments(AgentKeyCreate)
    @blp.response(201, AgentKeyCreated)
    @blp.doc(security=SECURED)
    def post(self, data):
        """Make a key that acts as the agent (its prices, its wallet). The
        answer's ``key`` is shown this once. At most 5 live keys; made
        while signed in, not with another key."""
        if current_principal().via != "session":
            raise Forbidden("API keys are made while signed in, not with an API key.")
        key, plaintext = agent_keys.create_agent_key(_me(), data["name"])
        body = {name: getattr(key, name) for name in AgentKeySchema().fields}
        body["key"] = plaintext
        return body


@blp.route("/me/api-keys/<key_id>")
class AgentKeyItem(MethodView):
    @require("agent.centre")
    @blp.response(200, AgentKeySchema)
    @blp.doc(security=SECURED)
    def delete(self, key_id):
        """Revoke one of the agent's keys. Idempotent; it stops working at once."""
        return agent_keys.revoke_agent_key(_me(), id_or_404(key_id, "No such API key."))


@blp.route("/me/commissions")
class Commissions(MethodView):
    @require("agent.centre")
    @blp.arguments(CommissionQuery, location="query")
    @blp.response(200, CommissionPage)
    @blp.doc(security=SECURED)
    def get(self, args):
        """The agent's commission, newest first (optionally of one status),
        with its totals by status over every page."""
        me = _me()
        rows, total = earnings.commissions_page(
            me, status=args.get("status"), page=args["page"], per_page=args["per_page"]
        )
        return page_of(rows, total, args) | {"totals": earnings.commission_totals(me)}


@blp.route("/me/downline")
class Downline(MethodView):
    @require("agent.centre")
    @blp.arguments(DownlineQuery, location="query")
    @blp.response(200, DownlinePage)
    @blp.doc(security=SECURED)
    def get(self, args):
        """The accounts below the agent, as deep as the shop pays commission:
        masked email, tier, when they joined and at which level."""
        rows, total = downline.downline_page(_me(), page=args["page"], per_page=args["per_page"])
        return page_of(rows, total, args) | {"levels": downline.levels_shown()}


@blp.route("/me/invite")
class Invite(MethodView):
    @require("agent.centre")
    @blp.response(200, InviteSchema)
    @blp.doc(security=SECURED)
    def get(self):
        """The agent's invite link (made on first ask): who signs up through
        it becomes the agent's sub-agent."""
        code = invites.invite_code_of(_me())
        return {"code": code, "url": url_for("agent_centre.join", code=code, _external=True)}


@blp.route("/me/sub-shop")
class SubShopItem(MethodView):
    @require("agent.centre")
    @blp.response(200, SubShopSchema)
    @blp.doc(security=SECURED)
    def get(self):
        """The agent's sub-shop; 404 while it has none."""
        sub_shop = sub_shop_settings.get_sub_shop(_me())
        if sub_shop is None:
            raise NotFound("You have no sub-shop yet; PUT one.")
        return _sub_shop_body(sub_shop)

    @require("agent.centre")
    @blp.arguments(SubShopPut)
    @blp.response(200, SubShopSchema)
    @blp.alt_response(201, schema=SubShopSchema, description="The sub-shop was opened.")
    @blp.doc(security=SECURED)
    def put(self, data):
        """Open (201) or change (200) the agent's sub-shop: every field is
        replaced."""
        sub_shop, created = sub_shop_settings.save_sub_shop(_me(), **data)
        return _sub_shop_body(sub_shop), 201 if created else 200


@blp.route("/me/tier")
class Tier(MethodView):
    @require("account.self")
    @blp.response(200, TierOfferSchema)
    @blp.doc(security=SECURED)
    def get(self):
        """The account's tier and the shop's tiers, with how far it is from each."""
        offer = upgrades.tier_offer(_me())
        return {
            "current": _tier_body(offer.current),
            "tiers": [
                _tier_body(c.tier)
                | {
                    "kind": c.kind,
                    "amount": c.amount,
                    "above": c.above,
                    "reachable": c.reachable,
                    "missing": c.missing,
                }
                for c in offer.choices
            ],
            "recharged": offer.recharged,
            "balance": offer.balance,
        }

    @require("account.self")
    @blp.arguments(TierRequest)
    @blp.response(200, TierResult)
    @blp.doc(security=SECURED)
    def post(self, data):
        """Move up to a tier: a ``fee`` tier is paid from the wallet (402 when
        short), a ``recharge_total`` tier is granted once the account's
        recharges reach it, a ``manual`` tier is the shop's to give (403).
        Only upgrades (409 otherwise); asking again for the tier held
        changes nothing. A tier makes a customer an agent."""
        me = _me()
        upgrade = upgrades.buy_tier(me, data["tier_id"])
        return {
            "tier": _tier_body(upgrade.tier),
            "charged": upgrade.charged,
            "changed": upgrade.changed,
            "role": accounts.get_shop_account(me).role,
            "balance": ledger.wallet_balance(me),
        }
