"""Shared test setup. Real servers are started by fixture plugins in tests/fixtures/:
each starts its server on free loopback ports once per session and stops it cleanly."""

pytest_plugins = [
    "tests.fixtures.pbx",
    "tests.fixtures.bus",
    "tests.fixtures.store",
    "tests.fixtures.server",
    "tests.fixtures.browser",
    "tests.fixtures.speech",
]
