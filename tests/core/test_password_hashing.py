"""Password hashing runs one hash at a time per process: argon2 holds its
memory (19 MiB at the default parameters) outside the GIL, so a burst of
sign-ins on every thread of a web worker would otherwise hold that much
each, at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher

from app.core import security


class _Watched(PasswordHasher):
    """The real hasher, counting how many of its hashes run at once."""

    def __init__(self) -> None:
        super().__init__(**security.FAST_PARAMETERS)
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def _enter(self) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)

    def _leave(self) -> None:
        with self.lock:
            self.running -= 1

    def hash(self, password, *, salt=None):
        self._enter()
        try:
            return super().hash(password, salt=salt)
        finally:
            self._leave()

    def verify(self, hash, password):
        self._enter()
        try:
            return super().verify(hash, password)
        finally:
            self._leave()


def test_sign_ins_at_once_hash_one_at_a_time_and_still_verify(monkeypatch):
    watched = _Watched()
    monkeypatch.setattr(security, "_hasher", watched)
    monkeypatch.setattr(security, "_dummy_hash", None)
    stored = security.hash_password("correct horse battery")

    def sign_in(n: int) -> bool:
        password = "correct horse battery" if n % 2 == 0 else "wrong"
        return security.verify_password(stored if n % 3 else None, password)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(sign_in, range(24)))

    assert watched.most == 1
    assert answers == [n % 2 == 0 and n % 3 != 0 for n in range(24)]
