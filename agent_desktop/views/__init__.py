"""Thin request handlers: parse, call the accounts/store API, render or return JSON."""
