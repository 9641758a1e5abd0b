"""Password hashing (argon2id) and token digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).
#: A sign-in holds the hash's memory while it runs, so the memory cost is
#: per concurrent sign-in: argon2-cffi's default (64 MiB, 4 lanes) lets eight
#: sign-ins on one 8-thread web worker take 512 MiB, far past the worker's
#: budget (README, benchmarks). Hashes carry their own parameters: older,
#: costlier hashes still verify.
DEFAULT_PARAMETERS = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}
FAST_PARAMETERS = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}

_hasher = PasswordHasher(**DEFAULT_PARAMETERS)
_dummy_hash: str | None = None

#: One hash at a time per process. argon2 releases the GIL, so every thread
#: of a web worker could hold 19 MiB at once during a burst of sign-ins, and
#: the C allocator keeps what it handed out: 32 buyers signing in at once
#: left each 4-thread worker at ~196 MB where serving needs ~120
#: (``scripts/bench checkout``, setup). A sign-in waits at most a few
#: others' ~50 ms.
_hashing = threading.BoundedSemaphore(1)


def configure_password_hashing(profile: str) -> None:
    """``default``: argon2id with ``DEFAULT_PARAMETERS``.
    ``fast``: still argon2id, with 1 pass over 1 MiB; only for test suites
    (``PASSWORD_HASH_PROFILE=fast``), where thousands of accounts are made.
    Hashes carry their parameters, so either profile verifies the other's."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(**(FAST_PARAMETERS if profile == "fast" else DEFAULT_PARAMETERS))
    _dummy_hash = None


MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256


def _dummy() -> str:
    """A real hash verified against when the account does not exist, so a
    login for an unknown email costs the same time as a wrong password.
    Made on first use, with the configured parameters (not at import time,
    where it cost every process a start-up spike of the default's memory)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_hex(16))
    return _dummy_hash


def hash_password(password: str) -> str:
    with _hashing:
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; constant-time-ish for unknown users."""
    against = password_hash or _dummy()
    try:
        with _hashing:
            return _hasher.verify(against, password) and bool(password_hash)
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
    """Constant-time equality of two strings, whatever characters they hold
    (``hmac.compare_digest`` refuses non-ASCII ``str``; their UTF-8 bytes it
    takes, lone surrogates included)."""
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )
