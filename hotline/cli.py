"""The `hotline` command: parse arguments, load settings once, hand over.

Commands:
  hotline run            the server, against the Asterisk, broker and store in the settings
  hotline up             everything locally (mosquitto, Asterisk, server) with a demo
  hotline demo-call      a demo citizen calls the hotline that `up` started
  hotline create-admin   the first admin account (password from stdin or a prompt)
  hotline create-token   an API token for another system
  hotline db upgrade     apply migrations
  hotline asr fetch-model NAME   download an official Vosk model, checked by SHA-256

Problems a person must fix (bad settings, refused AMI login, unreachable store) end the
command with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from accounts import admin_cli
from asr import model_cli
from config.settings import Settings, SettingsError, load_settings
from hotline import demo, up
from hotline.app import StartupError, serve
from hotline.log import configure_logging
from reports import cli as report_cli

EXIT_STARTUP = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(Path(args.config) if args.config else None)
    except SettingsError as err:
        return _fail(str(err))
    configure_logging(settings.log)
    if args.command == "run":
        return _serve(settings)
    if args.command == "up":
        return up.main(
            settings,
            state_dir=Path(args.state_dir) if args.state_dir else None,
            free_ports=args.free_ports,
            demo=args.demo,
        )
    if args.command == "demo-call":
        return demo.main(
            Path(args.state_dir), number=args.number, caller=args.caller, seconds=args.seconds
        )
    if model_cli.handles(args):
        return asyncio.run(model_cli.run(args, settings))
    if report_cli.handles(args):
        return asyncio.run(report_cli.run(args, settings))
    return asyncio.run(admin_cli.run(args, settings))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="12345 hotline server")
    parser.add_argument("--config", help="settings file (TOML); also HOTLINE_CONFIG")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the server against the configured Asterisk, broker, store")
    up = sub.add_parser("up", help="start mosquitto, Asterisk and the server locally (demo)")
    up.add_argument("--state-dir", help="where the local parts keep their files; "
                    "endpoints.json is written here once everything is ready")
    up.add_argument("--free-ports", action="store_true",
                    help="let the system choose every port (several labs side by side)")
    up.add_argument("--demo", action="store_true",
                    help="also run a demo operator softphone that answers calls")
    call = sub.add_parser("demo-call", help="a demo citizen calls the hotline `up` started")
    call.add_argument("--state-dir", default="var", help="the state dir given to `hotline up`")
    call.add_argument("--number", default="12345", help="the number dialled")
    call.add_argument("--caller", default="13800138000", help="the citizen's number")
    call.add_argument("--seconds", type=float, default=20.0, help="hang up after")
    admin_cli.add_parsers(sub)
    model_cli.add_parsers(sub)
    report_cli.add_parsers(sub)
    return parser


def _serve(settings: Settings) -> int:
    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop=stop)

    try:
        asyncio.run(run())
    except StartupError as err:
        return _fail(str(err))
    return 0


def _fail(message: str) -> int:
    print(f"hotline: {message}", file=sys.stderr)
    return EXIT_STARTUP


if __name__ == "__main__":
    sys.exit(main())
