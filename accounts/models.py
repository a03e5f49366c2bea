"""Account tables and their API shapes (sqlmodel families: Base, Create, table, Public).

Secrets are never stored: `User.password_hash` is argon2id; `WebSession.token_hash` and
`ApiToken.token_hash` are sha256 hex digests of random tokens the client holds. The CSRF
token is stored as is: it must be echoed into forms, and alone it grants nothing.
All datetimes are timezone-aware UTC (sqlmodel stores them via `UTCDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

import hotline.db  # noqa: F401  (constraint naming convention before the tables)
from accounts.roles import Role

USERNAME_MAX = 64


def utcnow() -> datetime:
    return datetime.now(UTC)


class UserBase(SQLModel):
    username: str = Field(max_length=USERNAME_MAX, unique=True, index=True)
    display_name: str = Field(default="", max_length=128)
    role: Role = Field(sa_type=sa.String(32))
    # Unit handlers: the handling unit (e.g. a district bureau) they work for.
    unit_id: str | None = Field(default=None, max_length=64, index=True)
    # Operators: the SIP extension of their softphone.
    sip_extension: str | None = Field(default=None, max_length=32)
    active: bool = True


class UserCreate(UserBase):
    password: str


class User(UserBase, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class UserPublic(UserBase):
    id: int
    created_at: datetime


class WebSession(SQLModel, table=True):
    __tablename__ = "web_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class ApiTokenBase(SQLModel):
    name: str = Field(max_length=128)


class ApiToken(ApiTokenBase, table=True):
    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked: bool = False


class ApiTokenPublic(ApiTokenBase):
    id: int
    user_id: int
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
