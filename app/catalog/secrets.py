"""The catalog's columns sealed with the card key, so ``cards rotate-key``
re-encrypts them: each card's code, and uploads waiting for their import job."""

from app.core.crypto import register_sealed_blob, register_sealed_column

register_sealed_column("cards", "id", "key_id", "secret")
register_sealed_blob("card_imports", "id", "payload")
