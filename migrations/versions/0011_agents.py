"""agents: tiers, price rules, coupons, commission, withdrawals, sub-shops

New tables ``agent_tiers``, ``price_rules``, ``coupons``,
``coupon_redemptions``, ``commissions``, ``withdrawals``, ``sub_shops``;
shop accounts get a tier, an upline and an invite code; API keys may belong
to an agent's shop account; orders remember their sub-shop; shops get their
agent settings. A wallet may now go below zero, but only by a commission
clawback (``ledger.post(..., allow_debt=True)``), which marks the wallet
``may_owe`` in the same UPDATE: the database check still refuses a negative
balance on every other wallet.

Revision ID: 0011
Revises: 0010

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('agent_tiers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('upgrade_kind', sa.String(length=16), nullable=False),
    sa.Column('upgrade_amount', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_agent_tiers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_tiers')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_agent_tiers_tenant_id_name'))
    )
    with op.batch_alter_table('agent_tiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_tiers_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('coupons',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('min_spend', sa.BigInteger(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=True),
    sa.Column('category_id', sa.Uuid(), nullable=True),
    sa.Column('max_uses', sa.Integer(), nullable=True),
    sa.Column('max_uses_per_buyer', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('allow_below_cost', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_coupons_category_id_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_coupons_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_coupons_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupons')),
    sa.UniqueConstraint('tenant_id', 'code', name=op.f('uq_coupons_tenant_id_code'))
    )
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coupons_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('price_rules',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=True),
    sa.Column('category_id', sa.Uuid(), nullable=True),
    sa.Column('tier_id', sa.Uuid(), nullable=True),
    sa.Column('price', sa.BigInteger(), nullable=True),
    sa.Column('percent_off', sa.Integer(), nullable=True),
    sa.Column('min_quantity', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('allow_below_cost', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_price_rules_category_id_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_price_rules_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_price_rules_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tier_id'], ['agent_tiers.id'], name=op.f('fk_price_rules_tier_id_agent_tiers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_rules'))
    )
    with op.batch_alter_table('price_rules', schema=None) as batch_op:
        batch_op.create_index('ix_price_rules_tenant_category', ['tenant_id', 'category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_price_rules_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_price_rules_tenant_product', ['tenant_id', 'product_id'], unique=False)

    op.create_table('sub_shops',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('title', sa.String(length=80), nullable=False),
    sa.Column('notice', sa.String(length=500), nullable=False),
    sa.Column('markups', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['shop_accounts.id'], name=op.f('fk_sub_shops_account_id_shop_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sub_shops_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sub_shops')),
    sa.UniqueConstraint('tenant_id', 'account_id', name=op.f('uq_sub_shops_tenant_id_account_id')),
    sa.UniqueConstraint('tenant_id', 'code', name=op.f('uq_sub_shops_tenant_id_code'))
    )
    with op.batch_alter_table('sub_shops', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sub_shops_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('withdrawals',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('fee', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('payout_account', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('decided_by', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['shop_accounts.id'], name=op.f('fk_withdrawals_account_id_shop_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_withdrawals_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_withdrawals'))
    )
    with op.batch_alter_table('withdrawals', schema=None) as batch_op:
        batch_op.create_index('ix_withdrawals_tenant_account', ['tenant_id', 'account_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_withdrawals_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_withdrawals_tenant_status', ['tenant_id', 'status', 'created_at'], unique=False)

    op.create_table('commissions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('downline_paid', sa.BigInteger(), nullable=False),
    sa.Column('own_price', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('settle_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reversed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['shop_accounts.id'], name=op.f('fk_commissions_account_id_shop_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_commissions_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_commissions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commissions')),
    sa.UniqueConstraint('tenant_id', 'order_id', 'level', name=op.f('uq_commissions_tenant_id_order_id_level'))
    )
    with op.batch_alter_table('commissions', schema=None) as batch_op:
        batch_op.create_index('ix_commissions_tenant_account', ['tenant_id', 'account_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_commissions_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_commissions_tenant_status_settle', ['tenant_id', 'status', 'settle_after'], unique=False)

    op.create_table('coupon_redemptions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('coupon_id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('buyer_key', sa.String(length=260), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_coupon_redemptions_coupon_id_coupons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_coupon_redemptions_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_coupon_redemptions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupon_redemptions')),
    sa.UniqueConstraint('tenant_id', 'order_id', name=op.f('uq_coupon_redemptions_tenant_id_order_id'))
    )
    with op.batch_alter_table('coupon_redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_coupon_redemptions_tenant_coupon', ['tenant_id', 'coupon_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_coupon_redemptions_tenant_id'), ['tenant_id'], unique=False)

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shop_account_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_api_keys_shop_account_id_shop_accounts'), 'shop_accounts', ['shop_account_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sub_shop_id', sa.Uuid(), nullable=True))

    with op.batch_alter_table('shop_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tier_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('upline_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('invite_code', sa.String(length=24), nullable=True))
        batch_op.create_index('ix_shop_accounts_tenant_upline', ['tenant_id', 'upline_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_shop_accounts_tenant_id_invite_code'), ['tenant_id', 'invite_code'])
        batch_op.create_foreign_key(batch_op.f('fk_shop_accounts_tier_id_agent_tiers'), 'agent_tiers', ['tier_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_shop_accounts_upline_id_shop_accounts'), 'shop_accounts', ['upline_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('may_owe', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.drop_constraint('wallet_not_negative', type_='check')
        batch_op.create_check_constraint(
            'wallet_not_negative', "kind <> 'wallet' OR balance >= 0 OR may_owe"
        )

    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agent_depth', sa.Integer(), server_default='3', nullable=False))
        batch_op.add_column(sa.Column('commission_hold_days', sa.Integer(), server_default='7', nullable=False))
        batch_op.add_column(sa.Column('first_order_percent', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('withdraw_min', sa.BigInteger(), server_default='1000', nullable=False))
        batch_op.add_column(sa.Column('withdraw_fee_bps', sa.Integer(), server_default='0', nullable=False))



def downgrade():
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('withdraw_fee_bps')
        batch_op.drop_column('withdraw_min')
        batch_op.drop_column('first_order_percent')
        batch_op.drop_column('commission_hold_days')
        batch_op.drop_column('agent_depth')

    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_constraint('wallet_not_negative', type_='check')
        batch_op.create_check_constraint('wallet_not_negative', "kind <> 'wallet' OR balance >= 0")
        batch_op.drop_column('may_owe')

    with op.batch_alter_table('shop_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_shop_accounts_upline_id_shop_accounts'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_shop_accounts_tier_id_agent_tiers'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_shop_accounts_tenant_id_invite_code'), type_='unique')
        batch_op.drop_index('ix_shop_accounts_tenant_upline')
        batch_op.drop_column('invite_code')
        batch_op.drop_column('upline_id')
        batch_op.drop_column('tier_id')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('sub_shop_id')

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_api_keys_shop_account_id_shop_accounts'), type_='foreignkey')
        batch_op.drop_column('shop_account_id')

    with op.batch_alter_table('coupon_redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coupon_redemptions_tenant_id'))
        batch_op.drop_index('ix_coupon_redemptions_tenant_coupon')

    op.drop_table('coupon_redemptions')
    with op.batch_alter_table('commissions', schema=None) as batch_op:
        batch_op.drop_index('ix_commissions_tenant_status_settle')
        batch_op.drop_index(batch_op.f('ix_commissions_tenant_id'))
        batch_op.drop_index('ix_commissions_tenant_account')

    op.drop_table('commissions')
    with op.batch_alter_table('withdrawals', schema=None) as batch_op:
        batch_op.drop_index('ix_withdrawals_tenant_status')
        batch_op.drop_index(batch_op.f('ix_withdrawals_tenant_id'))
        batch_op.drop_index('ix_withdrawals_tenant_account')

    op.drop_table('withdrawals')
    with op.batch_alter_table('sub_shops', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sub_shops_tenant_id'))

    op.drop_table('sub_shops')
    with op.batch_alter_table('price_rules', schema=None) as batch_op:
        batch_op.drop_index('ix_price_rules_tenant_product')
        batch_op.drop_index(batch_op.f('ix_price_rules_tenant_id'))
        batch_op.drop_index('ix_price_rules_tenant_category')

    op.drop_table('price_rules')
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coupons_tenant_id'))

    op.drop_table('coupons')
    with op.batch_alter_table('agent_tiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_tiers_tenant_id'))

    op.drop_table('agent_tiers')
