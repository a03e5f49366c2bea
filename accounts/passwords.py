"""Password hashing with argon2id (argon2-cffi).

Production uses argon2-cffi's defaults (RFC 9106 low-memory profile: 64 MiB, 3 passes).
Hashing is CPU work of tens of milliseconds, so async callers run these functions in a
worker thread (`accounts.repo` does, via `asyncio.to_thread`, which carries context
variables along).

Tests need thousands of hashes, not security: `use_hasher(cheap_hasher())` swaps in
argon2's cheapest parameters for the current context only. Nothing changes the
production default, and hashes made either way verify with either hasher (argon2 hashes
carry their own parameters); `needs_rehash` tells when a stored hash is weaker than the
current hasher, and `accounts.repo.authenticate` then rehashes on a successful login.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from contextvars import ContextVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import CHEAPEST

_current: ContextVar[PasswordHasher | None] = ContextVar("password_hasher", default=None)


@functools.cache
def production_hasher() -> PasswordHasher:
    return PasswordHasher()


@functools.cache
def cheap_hasher() -> PasswordHasher:
    """argon2's cheapest parameters: for tests only, never for stored passwords."""
    return PasswordHasher.from_parameters(CHEAPEST)


def current_hasher() -> PasswordHasher:
    return _current.get() or production_hasher()


@contextlib.contextmanager
def use_hasher(hasher: PasswordHasher) -> Iterator[PasswordHasher]:
    """Use `hasher` in this context (and threads started from it with to_thread)."""
    token = _current.set(hasher)
    try:
        yield hasher
    finally:
        _current.reset(token)


def hash_password(password: str, *, hasher: PasswordHasher | None = None) -> str:
    return (hasher or current_hasher()).hash(password)


def verify_password(
    password_hash: str, password: str, *, hasher: PasswordHasher | None = None
) -> bool:
    """True if `password` matches; False on a mismatch or a malformed hash, never raises."""
    try:
        return (hasher or current_hasher()).verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str, *, hasher: PasswordHasher | None = None) -> bool:
    try:
        return (hasher or current_hasher()).check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("not a password: equalises timing for unknown users")


def dummy_verify(password: str, *, hasher: PasswordHasher | None = None) -> bool:
    """Spend as long as a real verification, then say no (for unknown usernames)."""
    chosen = hasher or current_hasher()
    verify_password(_dummy_hash(chosen), password, hasher=chosen)
    return False
