"""products: an index in the storefront's listing order

Revision ID: 0004
Revises: 0003

"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_products_tenant_status_sort",
        "products",
        ["tenant_id", "status", "sort", "id"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_products_tenant_status_sort", table_name="products")
