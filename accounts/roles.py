"""Who a user is to the hotline. Every endpoint states which of these may call it."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    operator = "operator"  # answers citizen calls, writes work orders
    supervisor = "supervisor"  # watches queues and SLAs, reassigns, listens in
    unit_handler = "unit_handler"  # works orders dispatched to their handling unit
    admin = "admin"  # manages accounts, tokens and configuration
