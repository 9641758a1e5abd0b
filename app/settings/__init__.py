"""A shop's settings as its operator changes them (店铺设置): the profile
and look, the theme and its settings, the payment methods offered, the logo
and banner, and custom domains.

The rules of each value live where the value does (``tenants.profile``,
``tenants.provisioning``, ``app.core.themes``, ``app.payments.registry``);
the use cases here check, write, record the change in the audit log in the
same transaction, commit, and then tell every process that the shop
changed (``tenants.resolve.invalidate_resolution``, which also makes the
storefront's cached pages stale). The console's settings page calls them.
"""
