"""The supply protocol's request signature: HMAC-SHA256 over the method,
path, timestamp, nonce and the body's SHA-256, keyed by the credential's
secret. Both sides use this module: a shop signing what it sends upstream
(``app.supply.connectors``) and the supply API checking what it receives.

Headers of a signed request (and of a signed status callback):

- ``X-Kameng-Protocol``: the protocol version (``PROTOCOL_VERSION``; a
  server answers every version it lists in ``SUPPORTED_VERSIONS``);
- ``X-Kameng-Key``: the credential's public key id;
- ``X-Kameng-Timestamp``: Unix seconds; outside ``WINDOW_SECONDS`` of the
  server's clock the request is refused;
- ``X-Kameng-Nonce``: 16–64 characters of [A-Za-z0-9_-], used once within
  the window (the server remembers it for the window);
- ``X-Kameng-Signature``: lowercase hex HMAC-SHA256 of
  ``"<version>\\n<METHOD>\\n<path with query>\\n<timestamp>\\n<nonce>\\n<hex sha256 of body>"``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

PROTOCOL_VERSION = "1"
SUPPORTED_VERSIONS = ("1",)
WINDOW_SECONDS = 300

H_PROTOCOL = "X-Kameng-Protocol"
H_KEY = "X-Kameng-Key"
H_TIMESTAMP = "X-Kameng-Timestamp"
H_NONCE = "X-Kameng-Nonce"
H_SIGNATURE = "X-Kameng-Signature"

NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body or b"").hexdigest()


def canonical(
    version: str, method: str, path: str, timestamp: str, nonce: str, body: bytes
) -> bytes:
    return "\n".join([version, method.upper(), path, timestamp, nonce, body_hash(body)]).encode()


def signature(
    secret: str, version: str, method: str, path: str, timestamp: str, nonce: str, body: bytes
) -> str:
    return hmac.new(
        secret.encode(), canonical(version, method, path, timestamp, nonce, body), hashlib.sha256
    ).hexdigest()


def sign(
    key_id: str, secret: str, method: str, path: str, body: bytes = b"", *, now: float | None = None
) -> dict[str, str]:
    """The headers that sign a request of ``method`` to ``path`` (with its
    query string) carrying ``body``."""
    timestamp = str(int(now if now is not None else time.time()))
    nonce = secrets.token_urlsafe(24)
    return {
        H_PROTOCOL: PROTOCOL_VERSION,
        H_KEY: key_id,
        H_TIMESTAMP: timestamp,
        H_NONCE: nonce,
        H_SIGNATURE: signature(secret, PROTOCOL_VERSION, method, path, timestamp, nonce, body),
        "Content-Type": "application/json",
    }


@dataclass(frozen=True)
class Signed:
    """What a request claims, read from its headers (not yet verified)."""

    version: str
    key_id: str
    timestamp: str
    nonce: str
    signature: str


class SignatureProblem(ValueError):
    """Why a signed request is refused: ``reason`` is one of ``missing``,
    ``version``, ``stale``, ``malformed``, ``signature``, ``replayed``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def read_headers(headers) -> Signed:
    """The signature headers, checked for shape (``SignatureProblem``)."""
    values = {
        h: (headers.get(h) or "").strip()
        for h in (H_PROTOCOL, H_KEY, H_TIMESTAMP, H_NONCE, H_SIGNATURE)
    }
    missing = [h for h, v in values.items() if not v]
    if missing:
        raise SignatureProblem("missing", f"Missing header(s): {', '.join(missing)}.")
    if values[H_PROTOCOL] not in SUPPORTED_VERSIONS:
        raise SignatureProblem(
            "version",
            f"Protocol version {values[H_PROTOCOL][:10]!r} is not supported; "
            f"use one of {', '.join(SUPPORTED_VERSIONS)}.",
        )
    if not KEY_ID.match(values[H_KEY]) or not NONCE.match(values[H_NONCE]):
        raise SignatureProblem("malformed", "The key id or nonce is malformed.")
    if not values[H_TIMESTAMP].isdigit() or len(values[H_TIMESTAMP]) > 12:
        raise SignatureProblem("malformed", "The timestamp must be Unix seconds.")
    if not re.fullmatch(r"[0-9a-f]{64}", values[H_SIGNATURE]):
        raise SignatureProblem("malformed", "The signature must be 64 lowercase hex digits.")
    return Signed(
        values[H_PROTOCOL], values[H_KEY], values[H_TIMESTAMP], values[H_NONCE], values[H_SIGNATURE]
    )


def verify(
    signed: Signed, secret: str, method: str, path: str, body: bytes, *, now: float | None = None
) -> None:
    """``SignatureProblem`` unless ``signed`` is fresh and its signature is
    right (compared in constant time). The nonce's single use is the
    caller's to record (``app.supply.nonces``)."""
    current = now if now is not None else time.time()
    if abs(current - int(signed.timestamp)) > WINDOW_SECONDS:
        raise SignatureProblem(
            "stale", f"The timestamp is more than {WINDOW_SECONDS} seconds from the server's clock."
        )
    expected = signature(secret, signed.version, method, path, signed.timestamp, signed.nonce, body)
    if not hmac.compare_digest(expected, signed.signature):
        raise SignatureProblem("signature", "The signature does not match the request.")
