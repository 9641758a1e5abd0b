"""Shop statistics (数据统计): the figures an operator reads on the console's
dashboard, put together from the domains that own them (orders, catalog,
storefront visits, payments). Read-only."""
