"""Payment provider adapters (wallet, sandbox, stripe) behind ``base.PaymentAdapter``;
``payments.registry`` finds them by name."""
