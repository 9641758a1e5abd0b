"""supply: suppliers, product sources, supply attempts, supply credentials
and purchases; shops' ``supply_open``

Revision ID: 0013
Revises: 0012

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('suppliers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('base_url', sa.String(length=300), nullable=True),
    sa.Column('key_id', sa.String(length=64), nullable=True),
    sa.Column('secret_key_id', sa.String(length=8), nullable=True),
    sa.Column('secret', sa.LargeBinary(), nullable=True),
    sa.Column('deposit', sa.BigInteger(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['shop_accounts.id'], name=op.f('fk_suppliers_account_id_shop_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_suppliers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppliers')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_suppliers_tenant_id_name'))
    )
    with op.batch_alter_table('suppliers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suppliers_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('supply_credentials',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('secret_key_id', sa.String(length=8), nullable=False),
    sa.Column('secret', sa.LargeBinary(), nullable=False),
    sa.Column('callback_url', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['shop_accounts.id'], name=op.f('fk_supply_credentials_account_id_shop_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_supply_credentials_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_credentials')),
    sa.UniqueConstraint('tenant_id', 'key_id', name=op.f('uq_supply_credentials_tenant_id_key_id'))
    )
    with op.batch_alter_table('supply_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supply_credentials_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('product_sources',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('supplier_id', sa.Uuid(), nullable=False),
    sa.Column('sku', sa.String(length=120), nullable=False),
    sa.Column('cost', sa.BigInteger(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sync_failures', sa.Integer(), nullable=False),
    sa.Column('next_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_sources_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_product_sources_supplier_id_suppliers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_product_sources_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_sources')),
    sa.UniqueConstraint('tenant_id', 'product_id', 'supplier_id', 'sku', name=op.f('uq_product_sources_tenant_id_product_id_supplier_id_sku'))
    )
    with op.batch_alter_table('product_sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_sources_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_product_sources_tenant_next_sync', ['tenant_id', 'next_sync_at'], unique=False)
        batch_op.create_index('ix_product_sources_tenant_supplier', ['tenant_id', 'supplier_id'], unique=False)

    op.create_table('supply_purchases',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('credential_id', sa.Uuid(), nullable=False),
    sa.Column('caller_key', sa.String(length=120), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('notified_status', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['credential_id'], ['supply_credentials.id'], name=op.f('fk_supply_purchases_credential_id_supply_credentials'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_supply_purchases_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_supply_purchases_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_purchases')),
    sa.UniqueConstraint('tenant_id', 'credential_id', 'caller_key', name=op.f('uq_supply_purchases_tenant_id_credential_id_caller_key'))
    )
    with op.batch_alter_table('supply_purchases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supply_purchases_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_supply_purchases_tenant_order', ['tenant_id', 'order_id'], unique=False)

    op.create_table('supply_attempts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('source_id', sa.Uuid(), nullable=True),
    sa.Column('supplier_id', sa.Uuid(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.Column('upstream_ref', sa.String(length=120), nullable=True),
    sa.Column('cost', sa.BigInteger(), nullable=True),
    sa.Column('detail', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_supply_attempts_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['product_sources.id'], name=op.f('fk_supply_attempts_source_id_product_sources'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_supply_attempts_supplier_id_suppliers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_supply_attempts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_attempts'))
    )
    with op.batch_alter_table('supply_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supply_attempts_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_supply_attempts_tenant_order', ['tenant_id', 'order_id', 'created_at'], unique=False)
        batch_op.create_index('ix_supply_attempts_tenant_supplier', ['tenant_id', 'supplier_id', 'created_at'], unique=False)

    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supply_open', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('supply_open')

    with op.batch_alter_table('supply_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_supply_attempts_tenant_supplier')
        batch_op.drop_index('ix_supply_attempts_tenant_order')
        batch_op.drop_index(batch_op.f('ix_supply_attempts_tenant_id'))

    op.drop_table('supply_attempts')
    with op.batch_alter_table('supply_purchases', schema=None) as batch_op:
        batch_op.drop_index('ix_supply_purchases_tenant_order')
        batch_op.drop_index(batch_op.f('ix_supply_purchases_tenant_id'))

    op.drop_table('supply_purchases')
    with op.batch_alter_table('product_sources', schema=None) as batch_op:
        batch_op.drop_index('ix_product_sources_tenant_supplier')
        batch_op.drop_index('ix_product_sources_tenant_next_sync')
        batch_op.drop_index(batch_op.f('ix_product_sources_tenant_id'))

    op.drop_table('product_sources')
    with op.batch_alter_table('supply_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supply_credentials_tenant_id'))

    op.drop_table('supply_credentials')
    with op.batch_alter_table('suppliers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suppliers_tenant_id'))

    op.drop_table('suppliers')
