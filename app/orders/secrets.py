"""The orders' columns sealed with the card key, so ``cards rotate-key``
re-encrypts them: what an operator delivered by hand."""

from app.core.crypto import register_sealed_column

register_sealed_column("orders", "id", "manual_key_id", "manual_secret")
