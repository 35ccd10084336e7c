"""Durable jobs: what an approved manager action becomes, and the states it goes through.

A job is created from a ``JobSpec`` (idempotent by its key), claimed by one worker at a
time under a lease, advanced in checkpointed steps, and ends succeeded, failed or
cancelled. ``params`` and ``checkpoint`` are JSON objects so they survive the database
unchanged; ``last_error`` is a short code (an exception type), never user text.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.domain.errors import InvalidJobSpec

MAX_KEY_LENGTH = 200
MAX_KIND_LENGTH = 64
MAX_ERROR_LENGTH = 200


class JobState(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"  # waiting for run_after (new, or scheduled for a retry)
    RUNNING = "running"  # claimed by a worker whose lease may have expired
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Whether the job will never run again."""
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


def is_json_object(value: object) -> bool:
    """Whether ``value`` is a dict that comes back equal from a JSON round trip."""
    if not isinstance(value, dict):
        return False
    try:
        # Equality after the round trip rejects tuples, non-str keys, NaN and sets alike.
        return bool(json.loads(json.dumps(value, allow_nan=False)) == value)
    except (TypeError, ValueError):
        return False


def json_copy(value: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a JSON object (what reading it back from the database gives)."""
    copied: dict[str, Any] = json.loads(json.dumps(value))
    return copied


def checkpoint_object(value: Mapping[str, Any]) -> dict[str, Any]:
    """A validated deep copy of a checkpoint; raises ``InvalidJobSpec`` if not JSON."""
    checkpoint = dict(value)
    if not is_json_object(checkpoint):
        raise InvalidJobSpec("checkpoint must be a JSON object (str keys, no tuples or NaN)")
    return json_copy(checkpoint)


def short_error(code: str) -> str:
    """``code`` trimmed to what ``Job.last_error`` holds."""
    return code[:MAX_ERROR_LENGTH]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What to run: a handler ``kind`` with JSON ``params``, for one incident.

    ``idempotency_key`` names the request (e.g. ``approval:<decision id>:archive``):
    enqueueing the same key again returns the job already made.
    """

    kind: str
    incident_id: str
    params: dict[str, Any]
    idempotency_key: str

    def __post_init__(self) -> None:
        if not self.kind or len(self.kind) > MAX_KIND_LENGTH:
            raise InvalidJobSpec(f"kind must be 1..{MAX_KIND_LENGTH} characters")
        if not self.idempotency_key or len(self.idempotency_key) > MAX_KEY_LENGTH:
            raise InvalidJobSpec(f"idempotency_key must be 1..{MAX_KEY_LENGTH} characters")
        if not self.incident_id:
            raise InvalidJobSpec("incident_id is required")
        if not is_json_object(self.params):
            raise InvalidJobSpec("params must be a JSON object (str keys, no tuples or NaN)")


@dataclass(frozen=True, slots=True)
class Job:
    """A job as stored: its spec, state, attempts, progress, checkpoint and lease."""

    id: str
    kind: str
    incident_id: str
    idempotency_key: str
    params: dict[str, Any]
    state: JobState
    attempts: int
    progress_done: int
    progress_total: int  # 0 while unknown
    checkpoint: dict[str, Any]
    last_error: str | None
    run_after: dt.datetime
    lease_owner: str | None
    lease_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None
    wait_reason: str | None = None  # waiting out a transient fault (e.g. "graph-throttled")
    resumed_at: dt.datetime | None = None  # a manager resumed it: its windows restart here

    @property
    def window_start(self) -> dt.datetime:
        """Where the job's deadline and permission-propagation window are counted from."""
        return self.resumed_at or self.created_at

    @property
    def waiting(self) -> bool:
        """Whether it is queued again after a transient fault (the card says why and when)."""
        return self.state is JobState.QUEUED and self.wait_reason is not None

    @classmethod
    def new(cls, job_id: str, spec: JobSpec, *, at: dt.datetime) -> Job:
        """A freshly queued job for ``spec``, runnable from ``at``."""
        return cls(
            id=job_id,
            kind=spec.kind,
            incident_id=spec.incident_id,
            idempotency_key=spec.idempotency_key,
            params=json_copy(spec.params),
            state=JobState.QUEUED,
            attempts=0,
            progress_done=0,
            progress_total=0,
            checkpoint={},
            last_error=None,
            run_after=at,
            lease_owner=None,
            lease_until=None,
            created_at=at,
            updated_at=at,
            finished_at=None,
        )

    def claimable(self, now: dt.datetime) -> bool:
        """Whether a worker may claim it now (due, or its worker's lease has expired)."""
        if self.state is JobState.QUEUED:
            return self.run_after <= now
        if self.state is JobState.RUNNING:
            return self.lease_until is None or self.lease_until <= now
        return False

    def owned_by(self, worker_id: str) -> bool:
        """Whether ``worker_id`` holds the lease (expired or not, until someone reclaims it)."""
        return self.state is JobState.RUNNING and self.lease_owner == worker_id


def resume_fields(now: dt.datetime) -> dict[str, Any]:
    """What resuming a failed or cancelled job resets (besides queuing it again).

    Its checkpoint stays; attempts, error, wait and lease are cleared and its deadline and
    permission-propagation windows restart at ``now``.
    """
    return {
        "attempts": 0,
        "run_after": now,
        "last_error": None,
        "wait_reason": None,
        "lease_owner": None,
        "lease_until": None,
        "finished_at": None,
        "resumed_at": now,
        "updated_at": now,
    }


# --- The notice outbox: messages that must reach someone at least once -------------------
NOTICE_GIVE_UP_AFTER = 12  # failed sends (backing off to an hour): about seven hours


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message to someone's personal chat, stored before it is sent.

    ``key`` says what it is news of (``notice:KH-2026-0001:status:…``): one row per key,
    ever. ``cards``: the card per locale value (``"ja"``, ``"en"``), fixed when the fact
    happened, so a late send says what was true then. A sender takes the row under a
    lease, sends, and records ``outcome`` (``sent``, ``unreachable``, ``failed``); a row
    whose sender died is taken again once its lease has run out.
    """

    key: str
    incident_id: str
    recipient: str  # Entra object id
    cards: dict[str, Any]
    attempts: int = 0  # sends tried (the one in hand included)
    lease_owner: str | None = None
    lease_until: dt.datetime | None = None
    created_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    outcome: str | None = None

    def __post_init__(self) -> None:
        if not self.key or len(self.key) > MAX_KEY_LENGTH:
            raise InvalidJobSpec(f"outbox keys must be 1..{MAX_KEY_LENGTH} characters")

    def claimable(self, now: dt.datetime) -> bool:
        """Whether a sender may take it now: not yet delivered, and nobody's lease runs."""
        return self.outcome is None and (self.lease_until is None or self.lease_until <= now)
