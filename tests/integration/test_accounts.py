"""Accounts on the real store (SQLite and PostgreSQL): users, sessions, API tokens."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from accounts import passwords, repo
from accounts.models import ApiToken, User, WebSession
from accounts.roles import Role
from hotline.db import AsyncSession, session_factory

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


async def _user(session: AsyncSession, name: str = "li.na", **kw: object) -> int:
    kw.setdefault("role", Role.operator)
    user = await repo.create_user(session=session, username=name, password=PASSWORD, **kw)  # type: ignore[arg-type]
    return user.id


async def test_create_user_returns_public_data(session: AsyncSession) -> None:
    user = await repo.create_user(
        session=session, username="Wang.Wei", password=PASSWORD, role=Role.unit_handler,
        display_name="王伟", unit_id="district-water", sip_extension=None,
    )
    assert user.username == "wang.wei"
    assert user.role is Role.unit_handler
    assert user.display_name == "王伟"
    assert user.unit_id == "district-water"
    assert user.active
    assert user.created_at.tzinfo is not None
    assert "password_hash" not in user.model_dump()
    assert await repo.get_user(session=session, user_id=user.id) == user
    assert await repo.get_user(session=session, user_id=user.id + 100) is None
    assert [u.username for u in await repo.list_users(session=session)] == ["wang.wei"]


async def test_password_is_stored_only_as_argon2_hash(session: AsyncSession) -> None:
    user_id = await _user(session)
    row = (await session.execute(select(User).where(col(User.id) == user_id))).scalar_one()
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash


async def test_duplicate_username_is_taken(session: AsyncSession) -> None:
    await _user(session, "zhang")
    with pytest.raises(repo.UsernameTaken):
        await _user(session, "ZHANG ")
    assert len(await repo.list_users(session=session)) == 1


async def test_concurrent_creates_of_one_name_give_one_user(engine: AsyncEngine) -> None:
    factory = session_factory(engine)

    async def attempt() -> str:
        async with factory() as s:
            try:
                await _user(s, "race")
            except repo.UsernameTaken:
                return "taken"
            return "created"

    results = await asyncio.gather(*(attempt() for _ in range(4)))
    assert sorted(results) == ["created", "taken", "taken", "taken"]


@pytest.mark.parametrize(
    ("username", "password", "error"),
    [
        ("bad name", PASSWORD, repo.InvalidAccount),
        ("", PASSWORD, repo.InvalidAccount),
        ("ok", "short", repo.WeakPassword),
        ("longusername", "LongUserName", repo.WeakPassword),
        ("ok", " " * 12, repo.WeakPassword),
    ],
)
async def test_bad_accounts_are_refused(
    session: AsyncSession, username: str, password: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await repo.create_user(session=session, username=username, password=password,
                               role=Role.operator)
    assert await repo.list_users(session=session) == []


async def test_unit_handler_needs_a_unit(session: AsyncSession) -> None:
    with pytest.raises(repo.InvalidAccount, match="unit_id"):
        await repo.create_user(session=session, username="u", password=PASSWORD,
                               role=Role.unit_handler)


async def test_authenticate(session: AsyncSession) -> None:
    user_id = await _user(session, "op1")
    ok = await repo.authenticate(session=session, username="OP1", password=PASSWORD)
    assert ok is not None and ok.id == user_id
    assert await repo.authenticate(session=session, username="op1", password="wrong") is None
    assert await repo.authenticate(session=session, username="nobody", password=PASSWORD) is None
    await repo.set_user_active(session=session, user_id=user_id, active=False)
    assert await repo.authenticate(session=session, username="op1", password=PASSWORD) is None
    await repo.set_user_active(session=session, user_id=user_id, active=True)
    assert await repo.authenticate(session=session, username="op1", password=PASSWORD) is not None


async def test_login_rehashes_a_weak_hash(session: AsyncSession) -> None:
    user_id = await _user(session, "old")  # hashed with the cheap test hasher
    stronger = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1)
    with passwords.use_hasher(stronger):
        assert await repo.authenticate(session=session, username="old", password=PASSWORD)
    row = (await session.execute(select(User).where(col(User.id) == user_id))).scalar_one()
    assert not passwords.needs_rehash(row.password_hash, hasher=stronger)
    with passwords.use_hasher(stronger):
        assert await repo.authenticate(session=session, username="old", password=PASSWORD)


async def test_web_session_lifecycle(session: AsyncSession) -> None:
    user_id = await _user(session)
    token, csrf = await repo.create_web_session(session=session, user_id=user_id,
                                                ttl=timedelta(hours=1))
    assert len(token) >= 43 and len(csrf) >= 43 and token != csrf
    found = await repo.get_web_session(session=session, token=token)
    assert found is not None
    assert found[0].id == user_id and found[1] == csrf
    assert await repo.get_web_session(session=session, token=token + "x") is None
    stored = (await session.execute(select(col(WebSession.token_hash)))).scalars().all()
    assert stored == [repo.hash_token(token)] and token not in stored
    await repo.end_web_session(session=session, token=token)
    assert await repo.get_web_session(session=session, token=token) is None
    await repo.end_web_session(session=session, token=token)  # already gone: fine


async def test_web_session_expires(session: AsyncSession) -> None:
    user_id = await _user(session)
    token, _ = await repo.create_web_session(session=session, user_id=user_id,
                                             ttl=timedelta(minutes=5))
    other, _ = await repo.create_web_session(session=session, user_id=user_id,
                                             ttl=timedelta(minutes=5))
    past = datetime.now(UTC) - timedelta(seconds=1)
    await session.execute(
        update(WebSession).where(col(WebSession.token_hash) == repo.hash_token(token))
        .values(expires_at=past)
    )
    await session.commit()
    assert await repo.get_web_session(session=session, token=token) is None
    assert await repo.get_web_session(session=session, token=other) is not None
    count = (await session.execute(text("SELECT count(*) FROM web_sessions"))).scalar_one()
    assert count == 1  # the expired one was removed when seen


async def test_delete_expired_web_sessions(session: AsyncSession) -> None:
    user_id = await _user(session)
    await repo.create_web_session(session=session, user_id=user_id, ttl=timedelta(seconds=-1))
    await repo.create_web_session(session=session, user_id=user_id, ttl=timedelta(hours=1))
    assert await repo.delete_expired_web_sessions(session=session) == 1


async def test_inactive_user_loses_sessions_and_tokens(session: AsyncSession) -> None:
    user_id = await _user(session)
    token, _ = await repo.create_web_session(session=session, user_id=user_id,
                                             ttl=timedelta(hours=1))
    api = await repo.create_api_token(session=session, user_id=user_id, name="crm")
    await repo.set_user_active(session=session, user_id=user_id, active=False)
    assert await repo.get_web_session(session=session, token=token) is None
    assert await repo.get_api_token_user(session=session, token=api) is None
    with pytest.raises(repo.UserNotFound):
        await repo.create_web_session(session=session, user_id=user_id, ttl=timedelta(hours=1))
    with pytest.raises(repo.UserNotFound):
        await repo.create_api_token(session=session, user_id=user_id, name="again")


async def test_sessions_and_tokens_for_unknown_users(session: AsyncSession) -> None:
    with pytest.raises(repo.UserNotFound):
        await repo.create_web_session(session=session, user_id=999, ttl=timedelta(hours=1))
    with pytest.raises(repo.UserNotFound):
        await repo.create_api_token(session=session, user_id=999, name="x")


async def test_api_token_lifecycle(session: AsyncSession) -> None:
    user_id = await _user(session, "crm-bot", role=Role.admin)
    token = await repo.create_api_token(session=session, user_id=user_id, name="crm-sync")
    assert token.startswith(repo.API_TOKEN_PREFIX)
    [listed] = await repo.list_api_tokens(session=session, user_id=user_id)
    assert listed.name == "crm-sync" and listed.last_used_at is None and not listed.revoked
    user = await repo.get_api_token_user(session=session, token=token)
    assert user is not None and user.id == user_id and user.role is Role.admin
    [listed] = await repo.list_api_tokens(session=session)
    assert listed.last_used_at is not None and listed.last_used_at.tzinfo is not None
    stored = (await session.execute(select(col(ApiToken.token_hash)))).scalars().all()
    assert stored == [repo.hash_token(token)]
    assert await repo.get_api_token_user(session=session, token="hl_wrong") is None
    await repo.revoke_api_token(session=session, token_id=listed.id)
    assert await repo.get_api_token_user(session=session, token=token) is None
    with pytest.raises(repo.TokenNotFound):
        await repo.revoke_api_token(session=session, token_id=listed.id + 1)


async def test_set_password_ends_sessions(session: AsyncSession) -> None:
    user_id = await _user(session)
    token, _ = await repo.create_web_session(session=session, user_id=user_id,
                                             ttl=timedelta(hours=1))
    await repo.set_password(session=session, user_id=user_id, password="a new passphrase")
    assert await repo.get_web_session(session=session, token=token) is None
    assert await repo.authenticate(session=session, username="li.na", password=PASSWORD) is None
    assert await repo.authenticate(session=session, username="li.na",
                                   password="a new passphrase") is not None


async def test_changes_are_committed_by_the_repo(engine: AsyncEngine) -> None:
    factory = session_factory(engine)
    async with factory() as s:
        user_id = await _user(s)
        token = await repo.create_api_token(session=s, user_id=user_id, name="t")
    async with factory() as fresh:  # a new session sees everything without a commit by us
        assert await repo.get_user(session=fresh, user_id=user_id) is not None
        assert await repo.get_api_token_user(session=fresh, token=token) is not None
