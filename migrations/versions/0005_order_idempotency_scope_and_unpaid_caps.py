"""orders: Idempotency-Keys belong to their caller; the client address of an
order (unpaid orders are capped per address)

The unique key becomes (tenant_id, idempotency_scope, idempotency_key).
Orders placed before this revision keep their key with no scope: no caller's
replay finds them again (a retry across the upgrade places a new order; keys
stand for 24 hours anyway), and NULL scopes never clash in the unique key.

Revision ID: 0005
Revises: 0004

"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_scope", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("client_address", sa.String(length=45), nullable=True))
        batch_op.drop_constraint("uq_orders_tenant_id_idempotency_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_orders_tenant_id_idempotency_scope_idempotency_key",
            ["tenant_id", "idempotency_scope", "idempotency_key"],
        )
        batch_op.create_index(
            "ix_orders_tenant_address_status",
            ["tenant_id", "client_address", "status"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_tenant_address_status")
        batch_op.drop_constraint(
            "uq_orders_tenant_id_idempotency_scope_idempotency_key", type_="unique"
        )
        # Keys of different callers may now repeat: keep the newest of each.
        batch_op.execute(
            "UPDATE orders SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL "
            "AND EXISTS (SELECT 1 FROM orders AS newer WHERE newer.tenant_id = orders.tenant_id "
            "AND newer.idempotency_key = orders.idempotency_key "
            "AND newer.created_at > orders.created_at)"
        )
        batch_op.create_unique_constraint(
            "uq_orders_tenant_id_idempotency_key", ["tenant_id", "idempotency_key"]
        )
        batch_op.drop_column("client_address")
        batch_op.drop_column("idempotency_scope")
