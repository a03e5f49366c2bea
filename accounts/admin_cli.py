"""Admin commands of the `hotline` CLI: create-admin, create-token, db upgrade.

`hotline.cli` calls `add_parsers(subparsers)` while building its parser and, for these
commands, `await run(args, settings)`. Each command builds the engine, migrates, does
its one job and prints one clear line; problems (unreachable store, taken username, weak
password) print one line on stderr and return 1, never a traceback.

Passwords never travel on the command line (it is visible in `ps` and shell history):
`--password-stdin` reads one line from standard input, otherwise an interactive prompt
asks twice. A created API token is the only thing printed on stdout, so scripts can
capture it; it cannot be shown again.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from accounts import repo
from accounts.roles import Role
from config.settings import Settings
from hotline.db import StoreError, create_engine, migrate, safe_url, session_factory

COMMANDS = ("create-admin", "create-token", "db")


def add_parsers(subparsers: Any) -> None:
    """Add create-admin, create-token and db (upgrade) to an argparse subparsers object."""
    admin = subparsers.add_parser("create-admin", help="create an admin account")
    admin.add_argument("username")
    admin.add_argument("--display-name", default="", help="name shown in the desktop")
    admin.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (no prompt)",
    )
    token = subparsers.add_parser("create-token", help="create an API token for a user")
    token.add_argument("user", help="username the token acts as")
    token.add_argument("name", help="what the token is for, e.g. 'crm-sync'")
    db = subparsers.add_parser("db", help="store maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply all pending migrations")


def handles(args: argparse.Namespace) -> bool:
    return getattr(args, "command", None) in COMMANDS


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out the parsed admin command; returns the process exit code."""
    command = getattr(args, "command", None)
    if command not in COMMANDS:
        return _fail(f"not an admin command: {command!r}")
    password = ""
    if command == "create-admin":
        try:
            password = _read_password(password_stdin=args.password_stdin)
        except ValueError as err:
            return _fail(str(err))
    engine = create_engine(settings.database)
    try:
        await migrate(engine)
        if command == "create-admin":
            return await _create_admin(engine, args, password)
        if command == "create-token":
            return await _create_token(engine, args)
        print(f"database at {safe_url(engine.url)} is at the newest schema")
        return 0
    except StoreError as err:
        return _fail(str(err))
    except repo.AccountError as err:
        return _fail(str(err))
    finally:
        await engine.dispose()


async def _create_admin(engine: AsyncEngine, args: argparse.Namespace, password: str) -> int:
    async with session_factory(engine)() as session:
        user = await repo.create_user(
            session=session,
            username=args.username,
            password=password,
            role=Role.admin,
            display_name=args.display_name,
        )
    print(f"created admin {user.username!r} (id {user.id})", file=sys.stderr)
    return 0


async def _create_token(engine: AsyncEngine, args: argparse.Namespace) -> int:
    async with session_factory(engine)() as session:
        users = {u.username: u for u in await repo.list_users(session=session)}
        user = users.get(repo.normalize_username(args.user))
        if user is None:
            return _fail(f"no user named {args.user!r}")
        token = await repo.create_api_token(session=session, user_id=user.id, name=args.name)
    print(
        f"API token {args.name!r} for {user.username!r} ({user.role}); "
        "it is shown once, store it now:",
        file=sys.stderr,
    )
    print(token)
    return 0


def _read_password(*, password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise ValueError("--password-stdin: standard input gave no password")
        return password
    if not sys.stdin.isatty():
        raise ValueError("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _fail(message: str) -> int:
    print(f"hotline: {message}", file=sys.stderr)
    return 1
