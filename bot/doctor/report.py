"""Run every doctor check and print the report: a table (✓ ! ✗) or JSON."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping

from bot.config import Settings
from bot.doctor import Finding, Status
from bot.doctor.configuration import check_configuration
from bot.doctor.database import check_database
from bot.doctor.graph_access import check_graph, default_outside_mailbox

LINE_WIDTH = 110
SYMBOLS = {Status.OK: "✓", Status.WARN: "!", Status.FAIL: "✗"}


async def run_doctor(
    settings: Settings,
    env: Mapping[str, str],
    *,
    mailbox: str = "",
    outside_mailbox: str = "",
    graph: bool = True,
    database: bool = True,
) -> list[Finding]:
    """Configuration, then Graph permissions, then the database."""
    findings = check_configuration(settings, env)
    if graph:
        findings += await check_graph(
            settings,
            mailbox=mailbox or settings.department_mailbox,
            outside_mailbox=outside_mailbox or default_outside_mailbox(settings),
        )
    if database:
        findings += await check_database(settings)
    return findings


def render_table(findings: list[Finding]) -> str:
    """One line per finding, its fix indented below it, and a summary line."""
    width = max((len(f.name) for f in findings), default=0)
    indent = " " * (width + 6)
    lines: list[str] = []
    area = ""
    for f in findings:
        if f.area != area:
            area = f.area
            lines.append(("\n" if lines else "") + area)
        head = f"  {SYMBOLS[f.status]} {f.name.ljust(width)}  "
        lines += textwrap.wrap(
            f.what,
            LINE_WIDTH,
            initial_indent=head,
            subsequent_indent=indent,
            break_on_hyphens=False,
        ) or [head]
        if f.fix and f.status is not Status.OK:
            lines += textwrap.wrap(
                f"→ {f.fix}",
                LINE_WIDTH,
                initial_indent=indent,
                subsequent_indent=indent + "  ",
                break_on_hyphens=False,
            )
    counts = {s: sum(1 for f in findings if f.status is s) for s in Status}
    lines.append(
        f"\n{counts[Status.OK]} ok, {counts[Status.WARN]} warning(s), {counts[Status.FAIL]} failed"
    )
    return "\n".join(lines)


def render_json(findings: list[Finding]) -> str:
    """The findings as one JSON object."""
    failed = any(f.status is Status.FAIL for f in findings)
    return json.dumps(
        {"ok": not failed, "checks": [f.as_json() for f in findings]}, ensure_ascii=False, indent=2
    )
