"""The platform's own business: plans with their prices, commission and
limits, and each shop's subscription to one (``models.py``); the plans as
the platform owner edits them and a shop's plan (``plans.py``); the limits
every service asks before adding something a plan counts (``limits.py``).
Stripe Billing, Connect and dunning build on these tables."""
