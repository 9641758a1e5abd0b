"""Password hashing (argon2id) and token digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's current defaults


def configure_password_hashing(profile: str) -> None:
    """``default``: argon2-cffi's recommended argon2id parameters.
    ``fast``: still argon2id, with 1 pass over 1 MiB; only for test suites
    (``PASSWORD_HASH_PROFILE=fast``), where thousands of accounts are made.
    Hashes carry their parameters, so either profile verifies the other's."""
    global _hasher, _DUMMY_HASH
    if profile == "fast":
        _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    else:
        _hasher = PasswordHasher()
    _DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256

# A real hash verified against when the account does not exist, so a login
# for an unknown email costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; constant-time-ish for unknown users."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def token_digest(token: str) -> str:
    """SHA-256 hex digest of a high-entropy token (API keys).

    Keys carry 256 random bits, so a fast digest is safe and lets a lookup
    be one indexed query.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def digests_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
