"""``mamoru report org --from --to``: the organisation's figures as HTML and CSV files.

Counts and durations only (no names, addresses or texts): the files can go to the
council, the union or the HR section as they are.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path
from typing import Any


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date (YYYY-MM-DD)") from None


def register(subparsers: Any) -> None:
    """Add ``report org``."""
    report = subparsers.add_parser("report", help="the organisation's figures (集計報告)")
    kinds = report.add_subparsers(dest="report_command", metavar="KIND", required=True)
    org = kinds.add_parser(
        "org", help="cases by type, department and month; times; mails; tasks (HTML + CSV)"
    )
    org.add_argument(
        "--from", dest="start", type=_date, help="first day (default: April 1st, fiscal year)"
    )
    org.add_argument("--to", dest="end", type=_date, help="last day, inclusive (default: today)")
    org.add_argument("--out", type=Path, default=Path("."), help="folder for the two files")
    org.add_argument("--organisation", default="", help="name printed on the report")
    org.set_defaults(handler=org_command)


def org_command(args: argparse.Namespace) -> int:
    """Write org-report-<from>_<to>.html and .csv; print the headline figures."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.commands.guidance import load_settings

    settings = load_settings()
    if settings is None:
        return 2
    try:
        return asyncio.run(_run(settings, args))
    except SQLAlchemyError as exc:
        print(
            f"mamoru: cannot read the cases ({type(exc).__name__}); is the database migrated "
            "(mamoru db upgrade)?",
            file=sys.stderr,
        )
        return 1


async def _run(settings: Any, args: argparse.Namespace) -> int:
    from bot.app import build_persistence
    from bot.cases.figures import OrgFiguresService, fiscal_year_start
    from bot.cases.org_report import render_csv, render_html
    from bot.departments import DepartmentsError, load_organisation
    from bot.domain.ports import SystemClock

    clock = SystemClock()
    persistence = build_persistence(settings, clock)
    service = OrgFiguresService(queries=persistence.figures, clock=clock)
    end = args.end or service.today()
    start = args.start or fiscal_year_start(end)
    if end < start:
        print("mamoru: --to is before --from", file=sys.stderr)
        return 2
    try:
        names = {d.id: d.name or d.id for d in load_organisation(settings).departments}
    except DepartmentsError:
        names = {}
    try:
        figures = await service.figures(start, end)
    finally:
        await persistence.store.close()
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"org-report-{start:%Y%m%d}_{end:%Y%m%d}"
    html_path, csv_path = stem.with_suffix(".html"), stem.with_suffix(".csv")
    html_path.write_text(
        render_html(figures, organisation=args.organisation, departments=names), encoding="utf-8"
    )
    csv_path.write_text(render_csv(figures), encoding="utf-8", newline="")
    median = figures.to_decision.median_hours
    print(
        f"{start} – {end}: {figures.cases} cases, {figures.mails_preserved} mails preserved, "
        f"decision median {'-' if median is None else f'{median} h'}, "
        f"{figures.open_tasks} open tasks ({figures.overdue_tasks} overdue), "
        f"{figures.repeat_counterparts} repeat counterparts"
    )
    print(f"wrote {html_path}")
    print(f"wrote {csv_path}")
    return 0
