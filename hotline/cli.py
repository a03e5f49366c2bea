"""The `hotline` command. Parses arguments and hands over to the composition root."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hotline", description=__doc__)
    parser.add_argument("--config", help="settings file (TOML); also HOTLINE_CONFIG")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the hotline server against configured Asterisk, broker, store")
    up = sub.add_parser("up", help="start mosquitto, Asterisk and the server locally, with a demo")
    up.add_argument("--state-dir", help="write endpoints.json here once everything is ready")
    args = parser.parse_args(argv)
    print(f"hotline {args.command}: not built yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
