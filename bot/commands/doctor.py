"""``mamoru doctor``: check the configuration, the Graph permissions and the database."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``doctor``."""
    doctor = subparsers.add_parser(
        "doctor",
        help="check the configuration, Graph permissions and database; print what to fix",
        description="Checks Mamoru's settings, its Microsoft Graph permissions (calls that "
        "must succeed on an opted-in mailbox, one that must be refused outside the scope) and "
        "the database. Reads only. Exit code 0 when nothing failed, 1 otherwise.",
    )
    doctor.add_argument(
        "--mailbox",
        metavar="UPN",
        help="an opted-in mailbox to test (default: MAMORU_DEPARTMENT_MAILBOX)",
    )
    doctor.add_argument(
        "--outside-mailbox",
        metavar="UPN",
        help="a mailbox that did NOT opt in: reading it must be refused (sandbox default: the "
        "demo office's)",
    )
    doctor.add_argument("--no-graph", action="store_true", help="skip the Graph checks")
    doctor.add_argument("--no-database", action="store_true", help="skip the database checks")
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    doctor.set_defaults(handler=doctor_command)


def doctor_command(args: argparse.Namespace) -> int:
    """Run the checks and print the report; 0 when nothing failed, 1 otherwise (2: bad input)."""
    from bot.commands.guidance import load_settings
    from bot.doctor import exit_code
    from bot.doctor.report import render_json, render_table, run_doctor

    settings = load_settings()
    if settings is None:
        return 2
    findings = asyncio.run(
        run_doctor(
            settings,
            dict(os.environ),
            mailbox=args.mailbox or "",
            outside_mailbox=args.outside_mailbox or "",
            graph=not args.no_graph,
            database=not args.no_database,
        )
    )
    print(render_json(findings) if args.json else render_table(findings))
    return exit_code(findings)
