"""Password hashing: argon2id, never raising on a mismatch, cheap only when asked."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher

from accounts import passwords


def test_hash_then_verify() -> None:
    h = passwords.hash_password("correct horse battery")
    assert h.startswith("$argon2id$")
    assert "correct horse" not in h
    assert passwords.verify_password(h, "correct horse battery")


def test_wrong_password_is_false_not_an_exception() -> None:
    h = passwords.hash_password("correct horse battery")
    assert passwords.verify_password(h, "wrong") is False
    assert passwords.verify_password(h, "") is False


def test_malformed_hash_is_false() -> None:
    assert passwords.verify_password("not-a-hash", "x") is False
    assert passwords.verify_password("$argon2id$v=19$garbage", "x") is False
    assert passwords.needs_rehash("not-a-hash")


def test_unicode_passwords() -> None:
    h = passwords.hash_password("市民热线12345")
    assert passwords.verify_password(h, "市民热线12345")
    assert not passwords.verify_password(h, "市民热线1234")


def test_same_password_gets_different_salts() -> None:
    assert passwords.hash_password("same password") != passwords.hash_password("same password")


def test_production_defaults_are_argon2_cffi_defaults() -> None:
    prod = passwords.production_hasher()
    default = PasswordHasher()
    assert (prod.time_cost, prod.memory_cost, prod.parallelism) == (
        default.time_cost,
        default.memory_cost,
        default.parallelism,
    )
    assert prod.memory_cost >= 65536


def test_tests_run_with_the_cheap_hasher_and_it_is_scoped() -> None:
    # the autouse fast_passwords fixture is active here
    assert passwords.current_hasher() is passwords.cheap_hasher()
    with passwords.use_hasher(passwords.production_hasher()):
        assert passwords.current_hasher() is passwords.production_hasher()
    assert passwords.current_hasher() is passwords.cheap_hasher()


def test_weaker_hash_needs_rehash_under_production_params() -> None:
    cheap = passwords.hash_password("correct horse battery")
    prod = passwords.production_hasher()
    assert passwords.needs_rehash(cheap, hasher=prod)
    assert not passwords.needs_rehash(cheap)
    # argon2 hashes carry their parameters: a cheap hash still verifies under production
    assert passwords.verify_password(cheap, "correct horse battery", hasher=prod)


def test_dummy_verify_says_no() -> None:
    assert passwords.dummy_verify("anything") is False


async def test_hasher_choice_reaches_worker_threads() -> None:
    hasher = await asyncio.to_thread(passwords.current_hasher)
    assert hasher is passwords.cheap_hasher()
