"""The ``mamoru`` command.

Each feature contributes its subcommands through a ``register(subparsers)``
function listed in ``_FEATURES``; this module only parses and dispatches.
Every handler returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

# Modules with `register(subparsers: argparse._SubParsersAction) -> None`.
# Each registered parser sets `handler=<callable(args) -> int>` via set_defaults.
_FEATURES: tuple[str, ...] = (
    "bot.commands.guidance",  # serve, ask
    "bot.commands.evidence",  # evidence verify/export, db upgrade
    "bot.commands.mail",  # mail protect, sandbox
    "bot.commands.deploy",  # teams package
    "bot.commands.jobs",  # jobs list
    "bot.commands.doctor",  # doctor
    "bot.commands.report",  # report org
    "bot.commands.triage",  # triage train
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every feature's subcommands."""
    parser = argparse.ArgumentParser(
        prog="mamoru", description="Mamoru (守る): protects staff from customer harassment."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _FEATURES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
