"""Accounts and roles: operators, supervisors, unit handlers, admins; API tokens."""
