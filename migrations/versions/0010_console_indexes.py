"""console: indexes for a busy shop's lists and figures

Measured by ``scripts/bench console`` (10,000 products, 100,000 orders):

- ``orders (tenant_id, created_at, id) INCLUDE (status, paid_at, total,
  currency, product_id, quantity, product_name)`` replaces ``(tenant_id,
  created_at)``:
  the orders list's order with its tie-breaker (no sort of equal times),
  its total counted from the index alone, and the dashboard's days and best
  sellers and the platform console's 30-day figures read without touching
  the wide rows (on SQLite the included columns are simply left out);
- ``orders (tenant_id, status, created_at, id)``: the list filtered by a
  status, however rare, and its count;
- ``products (tenant_id, sort, id)``: the console's products list (every
  status) in its order, deep pages included;
- ``cards (tenant_id, product_id, id)``: a product's codes newest first,
  without walking the codes of every other product.

Revision ID: 0010
Revises: 0009

"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ORDER_TOTALS = ["status", "paid_at", "total", "currency", "product_id", "quantity", "product_name"]


def upgrade():
    op.create_index(
        "ix_orders_tenant_created_id",
        "orders",
        ["tenant_id", "created_at", "id"],
        unique=False,
        postgresql_include=ORDER_TOTALS,
    )
    op.drop_index("ix_orders_tenant_created", table_name="orders")
    op.create_index(
        "ix_orders_tenant_status_created",
        "orders",
        ["tenant_id", "status", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_products_tenant_sort", "products", ["tenant_id", "sort", "id"], unique=False
    )
    op.create_index(
        "ix_cards_tenant_product_id", "cards", ["tenant_id", "product_id", "id"], unique=False
    )


def downgrade():
    op.drop_index("ix_cards_tenant_product_id", table_name="cards")
    op.drop_index("ix_products_tenant_sort", table_name="products")
    op.drop_index("ix_orders_tenant_status_created", table_name="orders")
    op.create_index("ix_orders_tenant_created", "orders", ["tenant_id", "created_at"], unique=False)
    op.drop_index("ix_orders_tenant_created_id", table_name="orders")
