"""Invite links (邀请链接): an agent recruits sub-agents through ``/join/<code>``.

- Every agent has an invite code, made on first need: ``CODE_LENGTH``
  characters of an alphabet without look-alikes (no 0/O, 1/I/L), unique
  within the shop (``ShopAccount.invite_code``). Codes are shown upper-case
  and read in any case.
- Signing up through a code makes an ``agent`` whose ``upline_id`` is the
  inviter, so commission flows up the chain (``app.agents.commission``).
- A code recruits only while its owner is an active agent above the shop's
  depth: levels count from the top of a chain (an agent with no upline is
  level 1), and an agent at level ``Tenant.agent_depth`` or deeper cannot
  recruit (a shop of depth 0 takes no sub-agents at all).

Functions work in the current shop's context: a code of another shop is
unknown here.
"""

from __future__ import annotations

import secrets
import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.accounts import services as accounts
from app.accounts.models import ROLE_AGENT, ShopAccount
from app.agents.models import MAX_DEPTH
from app.core.errors import Forbidden, NotFound
from app.extensions import db
from tenants.context import current_tenant_id

#: 31 letters and digits a person cannot mistake for one another
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
_TRIES = 5


class InviteRefused(Forbidden):
    """The invite link exists but cannot sign anyone up now."""

    slug = "invite-not-usable"


def _new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def shop_depth() -> int:
    """How many upline levels the current shop pays (0..``MAX_DEPTH``)."""
    from tenants.models import Tenant

    depth = db.session.scalar(select(Tenant.agent_depth).where(Tenant.id == current_tenant_id()))
    return max(0, min(int(depth or 0), MAX_DEPTH))


def invite_code_of(account_id: uuid.UUID) -> str:
    """The agent's invite code, made (and committed) the first time it is
    asked for. ``NotFound`` for an account of no agent here."""
    for _ in range(_TRIES):
        account = db.session.scalar(
            select(ShopAccount).where(ShopAccount.id == account_id, ShopAccount.role == ROLE_AGENT)
        )
        if account is None:
            raise NotFound("No such agent.")
        if account.invite_code:
            return account.invite_code
        try:
            # Conditional: a twin request that made one first keeps its code.
            db.session.execute(
                update(ShopAccount)
                .where(ShopAccount.id == account_id, ShopAccount.invite_code.is_(None))
                .values(invite_code=_new_code())
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
        except IntegrityError:  # another agent holds that code: draw again
            db.session.rollback()
        db.session.expire_all()
    raise RuntimeError("no free invite code after several draws")


def normalize_code(code: str) -> str | None:
    """The code as stored (upper-case), or ``None`` when it cannot be one."""
    text = (code or "").strip().upper()
    if not 4 <= len(text) <= 24 or any(c not in ALPHABET for c in text):
        return None
    return text


def level_of(account: ShopAccount) -> int:
    """The account's level in its chain: 1 without an upline, 2 under a
    top agent, and so on (counted up to ``MAX_DEPTH + 1``; a loop made by
    hand stops the count)."""
    level, seen, upline = 1, {account.id}, account.upline_id
    while upline is not None and upline not in seen and level <= MAX_DEPTH:
        seen.add(upline)
        level += 1
        upline = db.session.scalar(select(ShopAccount.upline_id).where(ShopAccount.id == upline))
    return level


def inviter(code: str) -> ShopAccount:
    """The account whose invite code this is; ``NotFound`` when none here."""
    normal = normalize_code(code)
    account = (
        db.session.scalar(select(ShopAccount).where(ShopAccount.invite_code == normal))
        if normal
        else None
    )
    if account is None:
        raise NotFound(
            "No invite link has this code.", message=_l("This invite link does not exist.")
        )
    return account


def check_recruiting(account: ShopAccount) -> None:
    """``InviteRefused`` with the reason when ``account`` cannot take a
    sub-agent now: it is deactivated, no longer an agent, or at the shop's
    depth."""
    if not account.is_active or account.role != ROLE_AGENT:
        raise InviteRefused(
            "The owner of this invite link cannot take sub-agents now.",
            message=_l("This invite link is no longer in use. Ask the person who sent it."),
        )
    if level_of(account) >= shop_depth():
        raise InviteRefused(
            "The owner of this invite link is at the shop's deepest level.",
            message=_l(
                "This invite link cannot take new agents: its owner is at the deepest "
                "level this shop allows."
            ),
        )


def recruiter(code: str) -> ShopAccount:
    """The agent behind ``code`` when it can recruit now; ``NotFound`` or
    ``InviteRefused`` otherwise."""
    account = inviter(code)
    check_recruiting(account)
    return account


def join(code: str, email: str, password: str) -> ShopAccount:
    """Sign up through an invite link: a new ``agent`` account of the
    current shop under the code's owner. Commits. ``NotFound`` /
    ``InviteRefused`` for a code that cannot be used, and the sign-up's own
    ``ValidationFailed`` / ``Conflict`` (nothing is written then)."""
    upline = recruiter(code)
    return accounts.create_shop_account(email, password, role=ROLE_AGENT, upline_id=upline.id)
