"""agent money: withdrawal request keys, ledger transactions by day

- ``withdrawals.request_key`` with ``UNIQUE (tenant_id, account_id,
  request_key)``: an agent's request sent twice with the same key (a form
  posted twice, an API call repeated with its ``Idempotency-Key``) is one
  request;
- ``ledger_transactions (tenant_id, created_at)``: the daily reconciliation
  (``app.ledger.reconcile``) reads one day of a shop's transactions without
  walking the whole ledger.

Revision ID: 0012
Revises: 0011

"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_withdrawals_tenant_id_account_id_request_key"),
            ["tenant_id", "account_id", "request_key"],
        )
    op.create_index(
        "ix_ledger_transactions_tenant_created",
        "ledger_transactions",
        ["tenant_id", "created_at"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_ledger_transactions_tenant_created", table_name="ledger_transactions")
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_withdrawals_tenant_id_account_id_request_key"), type_="unique"
        )
        batch_op.drop_column("request_key")
