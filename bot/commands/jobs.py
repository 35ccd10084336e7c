"""``mamoru jobs list [--incident ID]``: what the durable job queue holds, for operators.

Shows ids, kinds, states, attempts, progress and error codes; never params or
checkpoints, which may name senders or mailboxes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bot.domain.jobs import Job


def register(subparsers: Any) -> None:
    """Add ``jobs list``."""
    jobs = subparsers.add_parser("jobs", help="inspect durable jobs (archive, cut-off mail...)")
    actions = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list jobs, newest first")
    listing.add_argument("--incident", help="only this incident's jobs (e.g. KH-2026-0001)")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=list_command)


def list_command(args: argparse.Namespace) -> int:
    """Print the jobs."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.commands.guidance import load_settings

    settings = load_settings()
    if settings is None:
        return 2
    try:
        found = asyncio.run(_load(settings.effective_database_url, args.incident, args.limit))
    except SQLAlchemyError as exc:
        print(
            f"mamoru: cannot read jobs ({type(exc).__name__}); is the database migrated "
            "(mamoru db upgrade)?",
            file=sys.stderr,
        )
        return 1
    if args.json:
        for job in found:
            print(json.dumps(as_json(job), ensure_ascii=False))
    else:
        print(render(found))
    return 0


async def _load(url: str, incident: str | None, limit: int) -> list[Job]:
    from bot.jobs.sql import SqlJobQueue

    queue = SqlJobQueue.from_url(url)
    try:
        if incident:
            return (await queue.jobs_for_incident(incident))[-limit:][::-1]
        return await queue.recent_jobs(limit=limit)
    finally:
        await queue.close()


def as_json(job: Job) -> dict[str, Any]:
    """The job's operator view (no params or checkpoint) as a JSON object."""
    return {
        "id": job.id,
        "kind": job.kind,
        "incident_id": job.incident_id,
        "state": str(job.state),
        "attempts": job.attempts,
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
        "last_error": job.last_error,
        "lease_owner": job.lease_owner,
        "run_after": job.run_after.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def render(found: list[Job]) -> str:
    """A plain-text table of the jobs, newest first."""
    if not found:
        return "no jobs"
    header = ("ID", "KIND", "INCIDENT", "STATE", "TRIES", "PROGRESS", "UPDATED (UTC)", "ERROR")
    rows = [
        (
            job.id,
            job.kind,
            job.incident_id,
            str(job.state),
            str(job.attempts),
            f"{job.progress_done}/{job.progress_total or '?'}",
            job.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
            job.last_error or "",
        )
        for job in found
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    )
