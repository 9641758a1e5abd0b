"""The supply domain's sealed columns (``cards rotate-key`` re-encrypts
them): our credentials at upstream suppliers, and the secrets of the
credentials docking partners use here."""

from app.core.crypto import register_sealed_column

register_sealed_column("suppliers", "id", "secret_key_id", "secret")
register_sealed_column("supply_credentials", "id", "secret_key_id", "secret")
register_sealed_column("supplier_codes", "id", "key_id", "secret")
