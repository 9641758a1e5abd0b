"""Marshmallow schemas of the withdrawal endpoints (提现). Amounts are
integer minor units of ``currency``; the shape is checked here, every rule
about values (the shop's minimum, the balance, open requests) belongs to
``app.agents.withdrawals`` and comes back as field errors."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.agents.models import WITHDRAWAL_STATUSES
from app.agents.withdrawals import MAX_TEXT
from app.core.pagination import PageArgs, PageSchema


class WithdrawalCreate(Schema):
    amount = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "Minor units taken from the wallet; at least the shop's minimum."},
    )
    payout_account = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_TEXT),
        metadata={"description": "Where the shop pays it: an Alipay account, a bank card …"},
    )


class WithdrawalQuery(PageArgs):
    status = fields.String(validate=validate.OneOf(WITHDRAWAL_STATUSES))


class ApproveRequest(Schema):
    reference = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_TEXT),
        metadata={"description": "The payout's reference at the bank or payment service."},
    )


class RejectRequest(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_TEXT),
        metadata={"description": "Why; the agent sees it. The amount returns to the wallet."},
    )


class WithdrawalSchema(Schema):
    id = fields.UUID()
    amount = fields.Integer(metadata={"description": "Taken from the wallet."})
    fee = fields.Integer(metadata={"description": "The shop's fee, kept from the amount."})
    payout = fields.Integer(metadata={"description": "What is paid out: amount less fee."})
    currency = fields.String()
    payout_account = fields.String()
    status = fields.String(metadata={"description": "requested | approved | rejected"})
    reference = fields.String(
        allow_none=True,
        metadata={"description": "The payout's reference (approved) or the reason (rejected)."},
    )
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)


class OperatorWithdrawalSchema(WithdrawalSchema):
    account_id = fields.UUID()
    email = fields.String(metadata={"description": "The requester's email."})
    role = fields.String(
        metadata={
            "description": "The requester's role: agent (its wallet) or supplier (its payable)."
        }
    )
    decided_by = fields.String(allow_none=True)


class TermsSchema(Schema):
    minimum = fields.Integer(metadata={"description": "The smallest amount one may ask for."})
    fee_bps = fields.Integer(metadata={"description": "The fee in basis points of the amount."})
    currency = fields.String()
    max_open = fields.Integer(metadata={"description": "Requests that may wait at once."})


class MyWithdrawalPage(PageSchema):
    items = fields.List(fields.Nested(WithdrawalSchema))
    terms = fields.Nested(TermsSchema)
    balance = fields.Integer(metadata={"description": "The wallet's balance now."})


class WithdrawalPage(PageSchema):
    items = fields.List(fields.Nested(OperatorWithdrawalSchema))
