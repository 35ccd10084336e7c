"""Jobs as rows of the ``jobs`` table: one home for the mapping both writers use.

The job queue (``bot.jobs.sql``) and the decision transaction (``bot.store.sql``,
which inserts the approved jobs together with the decision) read and write the same
rows; both go through these two functions.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row

from bot.domain.jobs import Job, JobState


def utc(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC (SQLite hands back naive datetimes; everything stored is UTC)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utc_or_none(value: dt.datetime | None) -> dt.datetime | None:
    """``utc`` that lets None through."""
    return None if value is None else utc(value)


def dumps(value: Mapping[str, Any]) -> str:
    """A JSON object as stored (sorted keys, no NaN)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)


def job_values(job: Job) -> dict[str, Any]:
    """The row of a new job (``Job.new``), ready for an INSERT."""
    return {
        "id": job.id,
        "kind": job.kind,
        "incident_id": job.incident_id,
        "idempotency_key": job.idempotency_key,
        "params": dumps(job.params),
        "state": str(job.state),
        "attempts": job.attempts,
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
        "checkpoint": dumps(job.checkpoint),
        "run_after": job.run_after,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }


def job_from_row(row: Row[Any]) -> Job:
    """The ``Job`` a row of ``jobs`` holds."""
    return Job(
        id=row.id,
        kind=row.kind,
        incident_id=row.incident_id,
        idempotency_key=row.idempotency_key,
        params=json.loads(row.params),
        state=JobState(row.state),
        attempts=row.attempts,
        progress_done=row.progress_done,
        progress_total=row.progress_total,
        checkpoint=json.loads(row.checkpoint),
        last_error=row.last_error,
        run_after=utc(row.run_after),
        lease_owner=row.lease_owner,
        lease_until=utc_or_none(row.lease_until),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        finished_at=utc_or_none(row.finished_at),
        wait_reason=row.wait_reason,
        resumed_at=utc_or_none(row.resumed_at),
    )
