"""The console's agents (代理, ``/console/agents``) and commission
(分润, ``/console/commissions``).

- Agents: every agent with its tier, upline, how many it recruited, its
  balance and pending commission, searchable by email and by tier, paged.
- One agent's chain (``/console/agents/<id>``): its uplines and its
  downline tree up to three levels, with its money at a glance.
- Commissions: every commission of the shop, filtered by status, agent and
  days (in the shop's time zone), with the totals per status of what the
  other filters match, paged.

Reads only (``agents.view``: the owner and staff). Views parse the query,
call ``app.agents.reports`` and render.
"""

from __future__ import annotations

from flask import Blueprint, g, render_template, request

from app.accounts.auth import require
from app.agents import reports
from app.agents.models import COMMISSION_STATUSES
from app.core.errors import NotFound
from app.core.ids import id_or_404, parse_uuid
from app.core.money import money_formatter
from app.core.pages import TypedFilters, only_on, typed_day_span
from app.core.pagination import Pager, requested_page

bp = Blueprint("console_agents", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))

PER_PAGE = 50


@bp.get("/agents")
@require("agents.view")
def agents():
    search = (request.args.get("q") or "").strip()[:254]
    tiers = reports.tier_choices()
    tier_id = parse_uuid(request.args.get("tier") or "")
    if tier_id not in {t for t, _name in tiers}:
        tier_id = None
    page = requested_page(request.args.get("page"))
    rows, total = reports.list_agents(
        search=search or None, tier_id=tier_id, page=page, per_page=PER_PAGE
    )
    return render_template(
        "console/agents/agents.html",
        rows=rows,
        pager=Pager(page, PER_PAGE, total),
        search=search,
        tiers=tiers,
        tier_id=tier_id,
        link_args={k: v for k, v in (("q", search), ("tier", tier_id)) if v},
        money=money_formatter(g.shop.currency),
    )


@bp.get("/agents/<account_id>")
@require("agents.view")
def agent(account_id: str):
    chain = reports.chain_of(id_or_404(account_id, NotFound.title))
    return render_template(
        "console/agents/chain.html", chain=chain, money=money_formatter(g.shop.currency)
    )


def read_commission_query(args) -> TypedFilters:
    """``status``, ``agent`` (part of an email, or an account id) and the
    days ``start`` to ``end`` (both included, shop's time zone)."""
    typed = {
        key: (args.get(key) or "").strip()[:254] for key in ("status", "agent", "start", "end")
    }
    if typed["status"] not in COMMISSION_STATUSES:
        typed["status"] = ""
    errors = {}
    start, end = typed_day_span(typed, errors)
    if errors:
        return TypedFilters(typed, None, errors)
    agent_id = parse_uuid(typed["agent"]) if typed["agent"] else None
    return TypedFilters(
        typed,
        reports.CommissionFilter(
            status=typed["status"] or None,
            account_id=agent_id,
            email_part=typed["agent"] if typed["agent"] and agent_id is None else None,
            created_from=start,
            created_before=end,
        ),
    )


@bp.get("/commissions")
@require("agents.view")
def commissions():
    query = read_commission_query(request.args)
    page = requested_page(request.args.get("page"))
    if query.wanted is not None:
        rows, total = reports.list_commissions(query.wanted, page=page, per_page=PER_PAGE)
        totals = reports.commission_totals(query.wanted)
    else:
        rows, total, totals = [], 0, {}
    return render_template(
        "console/agents/commissions.html",
        rows=rows,
        pager=Pager(page, PER_PAGE, total),
        totals=totals,
        typed=query.typed,
        errors=query.errors,
        link_args=query.link_args(),
        statuses=COMMISSION_STATUSES,
        money=money_formatter(g.shop.currency),
    )
