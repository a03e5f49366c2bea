"""Account operations on the store: users, web sessions, API tokens.

Every function is async, takes the session keyword-only, and COMMITS ITS OWN CHANGE
before returning (callers never need to commit; a failed call leaves nothing half
written: it rolls back). Results are `UserPublic` / `ApiTokenPublic` values, never table
rows, so no password hash or token hash leaves this module.

Tokens: `secrets.token_urlsafe(32)` (256 bits), handed to the caller once; only their
sha256 hex digest is stored, so a leaked database grants no session. API tokens start
with `hl_` so secret scanners and humans can recognise them.

Password hashing runs in a worker thread (`asyncio.to_thread`): argon2 is CPU work.
`authenticate` verifies against a dummy hash for unknown usernames, so the response time
does not reveal which usernames exist. Usernames are case-insensitive (stored lower-case).

Exceptions::

    AccountError              a request about accounts that cannot be carried out
     ├── UsernameTaken         create_user: that username exists
     ├── UserNotFound          no such user (or it is inactive, where that matters)
     ├── TokenNotFound         revoke_api_token: no such token
     ├── WeakPassword          the password is too short or equals the username
     └── InvalidAccount        malformed username, or a unit handler without unit_id
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from datetime import timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accounts import passwords
from accounts.models import ApiToken, ApiTokenPublic, User, UserPublic, WebSession, utcnow
from accounts.roles import Role

log = structlog.get_logger(__name__)

MIN_PASSWORD_LENGTH = 8
API_TOKEN_PREFIX = "hl_"
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")


class AccountError(Exception):
    """Base of account errors; the message is fit to show to an admin."""


class UsernameTaken(AccountError):
    pass


class UserNotFound(AccountError):
    pass


class TokenNotFound(AccountError):
    pass


class WeakPassword(AccountError):
    pass


class InvalidAccount(AccountError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_username(username: str) -> str:
    return username.strip().lower()


def check_password_strength(username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise WeakPassword("a password cannot be only spaces")
    if password.strip().lower() == normalize_username(username):
        raise WeakPassword("a password cannot be the username")


def _public(user: User) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


async def create_user(
    *,
    session: AsyncSession,
    username: str,
    password: str,
    role: Role,
    display_name: str = "",
    unit_id: str | None = None,
    sip_extension: str | None = None,
) -> UserPublic:
    name = normalize_username(username)
    if not _USERNAME.fullmatch(name):
        raise InvalidAccount(
            f"username {username!r}: use 1-64 letters, digits, '.', '_', '@' or '-'"
        )
    role = Role(role)
    if role is Role.unit_handler and not unit_id:
        raise InvalidAccount(f"unit handler {name!r} needs the unit_id of their unit")
    check_password_strength(name, password)
    if await _user_by_name(session, name) is not None:
        raise UsernameTaken(f"username {name!r} is taken")
    password_hash = await asyncio.to_thread(passwords.hash_password, password)
    user = User(
        username=name,
        display_name=display_name,
        role=role,
        unit_id=unit_id,
        sip_extension=sip_extension,
        password_hash=password_hash,
    )
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as err:  # a concurrent create won the race
        await session.rollback()
        raise UsernameTaken(f"username {name!r} is taken") from err
    log.info("accounts.user_created", user_id=user.id, username=name, role=str(role))
    return _public(user)


async def _user_by_name(session: AsyncSession, name: str) -> User | None:
    result = await session.execute(select(User).where(col(User.username) == name))
    return result.scalars().first()


async def authenticate(
    *, session: AsyncSession, username: str, password: str
) -> UserPublic | None:
    """The user if the password is right and the account active, else None."""
    user = await _user_by_name(session, normalize_username(username))
    if user is None:
        await asyncio.to_thread(passwords.dummy_verify, password)
        return None
    ok = await asyncio.to_thread(passwords.verify_password, user.password_hash, password)
    if not ok or not user.active:
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(passwords.hash_password, password)
        session.add(user)
        await session.commit()
    return _public(user)


async def get_user(*, session: AsyncSession, user_id: int) -> UserPublic | None:
    user = await session.get(User, user_id)
    return None if user is None else _public(user)


async def list_users(*, session: AsyncSession) -> list[UserPublic]:
    result = await session.execute(select(User).order_by(col(User.id)))
    return [_public(u) for u in result.scalars().all()]


async def set_user_active(*, session: AsyncSession, user_id: int, active: bool) -> UserPublic:
    """Enable or disable a user; disabling also ends their web sessions."""
    user = await _active_or_any_user(session, user_id, need_active=False)
    user.active = active
    session.add(user)
    if not active:
        await session.execute(delete(WebSession).where(col(WebSession.user_id) == user_id))
    await session.commit()
    return _public(user)


async def set_password(*, session: AsyncSession, user_id: int, password: str) -> None:
    """Replace a user's password and end their web sessions."""
    user = await _active_or_any_user(session, user_id, need_active=False)
    check_password_strength(user.username, password)
    user.password_hash = await asyncio.to_thread(passwords.hash_password, password)
    session.add(user)
    await session.execute(delete(WebSession).where(col(WebSession.user_id) == user_id))
    await session.commit()


async def _active_or_any_user(session: AsyncSession, user_id: int, *, need_active: bool) -> User:
    user = await session.get(User, user_id)
    if user is None or (need_active and not user.active):
        raise UserNotFound(f"no {'active ' if need_active else ''}user with id {user_id}")
    return user


async def create_web_session(
    *, session: AsyncSession, user_id: int, ttl: timedelta
) -> tuple[str, str]:
    """A new login session: (session token, CSRF token). The session token is shown once."""
    await _active_or_any_user(session, user_id, need_active=True)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            token_hash=hash_token(token),
            user_id=user_id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.commit()
    return token, csrf


async def get_web_session(
    *, session: AsyncSession, token: str
) -> tuple[UserPublic, str] | None:
    """(user, CSRF token) for a valid, unexpired session of an active user, else None.

    An expired session found here is deleted (and committed)."""
    result = await session.execute(
        select(WebSession, User)
        .join(User, col(User.id) == col(WebSession.user_id))
        .where(col(WebSession.token_hash) == hash_token(token))
    )
    row = result.first()
    if row is None:
        return None
    web_session, user = row
    if web_session.expires_at <= utcnow():
        await session.delete(web_session)
        await session.commit()
        return None
    if not user.active:
        return None
    return _public(user), web_session.csrf_token


async def end_web_session(*, session: AsyncSession, token: str) -> None:
    """Log out: forget the session (no error if it is already gone)."""
    await session.execute(delete(WebSession).where(col(WebSession.token_hash) == hash_token(token)))
    await session.commit()


async def delete_expired_web_sessions(*, session: AsyncSession) -> int:
    """Housekeeping: remove expired sessions; returns how many."""
    result = await session.execute(delete(WebSession).where(col(WebSession.expires_at) <= utcnow()))
    await session.commit()
    return int(getattr(result, "rowcount", 0))


async def create_api_token(*, session: AsyncSession, user_id: int, name: str) -> str:
    """A new API token for `user_id`, returned once in plain text (`hl_...`)."""
    await _active_or_any_user(session, user_id, need_active=True)
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=hash_token(token), user_id=user_id))
    await session.commit()
    return token


async def get_api_token_user(*, session: AsyncSession, token: str) -> UserPublic | None:
    """The active user owning this unrevoked token (and note its use), else None."""
    result = await session.execute(
        select(ApiToken, User)
        .join(User, col(User.id) == col(ApiToken.user_id))
        .where(col(ApiToken.token_hash) == hash_token(token))
    )
    row = result.first()
    if row is None:
        return None
    api_token, user = row
    if api_token.revoked or not user.active:
        return None
    api_token.last_used_at = utcnow()
    session.add(api_token)
    await session.commit()
    return _public(user)


async def list_api_tokens(
    *, session: AsyncSession, user_id: int | None = None
) -> list[ApiTokenPublic]:
    query = select(ApiToken).order_by(col(ApiToken.id))
    if user_id is not None:
        query = query.where(col(ApiToken.user_id) == user_id)
    result = await session.execute(query)
    return [ApiTokenPublic.model_validate(t, from_attributes=True) for t in result.scalars()]


async def revoke_api_token(*, session: AsyncSession, token_id: int) -> None:
    api_token = await session.get(ApiToken, token_id)
    if api_token is None:
        raise TokenNotFound(f"no API token with id {token_id}")
    api_token.revoked = True
    session.add(api_token)
    await session.commit()
