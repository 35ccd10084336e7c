"""Ports: what the domain needs from the outside world, as Protocols.

Concrete implementations live outside the domain (``bot/store``, ``bot/mail``,
``bot/evidence``) and are wired together only in ``bot/app.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    """The current time; injectable so tests can move it."""

    def now(self) -> dt.datetime:
        """Now, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        """Now, in UTC."""
        return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class EmailEvidence:
    """One archived email, as recorded in a case's evidence log.

    ``immutable_id`` is Graph's ImmutableId: it survives moves, so it is the key
    that makes recording idempotent (a re-run never records the same mail twice).
    """

    immutable_id: str
    internet_message_id: str
    received_at: dt.datetime
    sender: str
    subject: str
    mime_sha256: str
    mailbox: str


class EmailEvidenceLog(Protocol):
    """Where mail protection records each archived message (per case, append-only)."""

    async def recorded_email_ids(self, case_id: str) -> set[str]:
        """Immutable ids of the emails already recorded for ``case_id``."""
        ...

    async def record_email(self, case_id: str, item: EmailEvidence, eml: bytes) -> None:
        """Append one email and its original bytes to the case's evidence log."""
        ...

    async def record_emails(
        self, case_id: str, batch: Sequence[tuple[EmailEvidence, bytes]]
    ) -> Sequence[object]:
        """``record_email`` for many mails, in order (a store: one transaction for all)."""
        ...


# --- Incidents and evidence (issue 4). Imported here, not at the top, so the classes
# above stay importable on their own; the domain modules import nothing from ports.
from collections.abc import AsyncIterator, Collection, Sequence  # noqa: E402

from bot.domain.access import Viewer  # noqa: E402
from bot.domain.departments import ManagersChannel  # noqa: E402
from bot.domain.evidence import ChainAnchor, ChainHead, EvidenceItem, SealedEntry  # noqa: E402
from bot.domain.incidents import (  # noqa: E402
    Incident,
    IncidentDraft,
    IncidentState,
    Person,
    TimelineEvent,
)


class IncidentRepository(Protocol):
    """Incidents and their timelines."""

    async def create_incident(self, draft: IncidentDraft, *, idempotency_key: str) -> Incident:
        """Open an incident (id ``KH-YYYY-NNNN``, no gaps); the same key returns the same one."""
        ...

    async def load_incident(self, incident_id: str) -> Incident:
        """The incident, without an access check (jobs, CLI); raises ``IncidentNotFound``."""
        ...

    async def get_incident(self, incident_id: str, viewer: Viewer) -> Incident:
        """The incident if ``viewer`` may see it; ``IncidentNotFound`` or ``AccessDenied``."""
        ...

    async def list_incidents(self, viewer: Viewer, *, limit: int = 50) -> list[Incident]:
        """The incidents ``viewer`` may see, newest first."""
        ...

    async def cases_sharing(self, keys: Collection[str]) -> list[Incident]:
        """The cases whose counterparts have any of ``keys`` (``linking.index_keys``), oldest first.

        An index lookup, without an access check: the caller applies the access rule.
        """
        ...

    async def transition(
        self, incident_id: str, target: IncidentState, *, actor: Person, note: str = ""
    ) -> Incident:
        """Move the incident to ``target``; raises ``InvalidTransition`` if not allowed."""
        ...

    async def add_event(self, incident_id: str, event: TimelineEvent) -> Incident:
        """Append a timeline event (note, export) that does not change the state."""
        ...


class EvidenceRepository(Protocol):
    """The append-only evidence log of each case (no update or delete exists)."""

    async def append_evidence(
        self, case_id: str, item: EvidenceItem, *, recorded_by: Person
    ) -> SealedEntry:
        """Chain ``item`` after the case's head; an email already recorded is returned as is."""
        ...

    async def append_many(
        self, case_id: str, items: Sequence[EvidenceItem], *, recorded_by: Person
    ) -> list[SealedEntry]:
        """Chain ``items`` in order, all or none (one transaction: the fast path for batches)."""
        ...

    def iter_evidence(self, case_id: str, *, upto: int | None = None) -> AsyncIterator[SealedEntry]:
        """The case's entries in chain order up to entry ``upto``, streamed (flat memory)."""
        ...

    async def evidence_head(self, case_id: str) -> ChainHead:
        """The head the store recorded for the case; raises ``IncidentNotFound``."""
        ...


class ChainHeads(Protocol):
    """Every case's recorded chain head (what anchoring copies out of the database)."""

    def chain_heads(self) -> AsyncIterator[tuple[str, ChainHead]]:
        """``(case id, head)`` of every case with at least one entry, streamed."""
        ...

    async def evidence_head(self, case_id: str) -> ChainHead:
        """The head the store recorded for the case; raises ``IncidentNotFound``."""
        ...


class AnchorStore(Protocol):
    """Write-once storage outside the database for chain-head anchors."""

    async def put_anchor(self, anchor: ChainAnchor) -> None:
        """Keep ``anchor`` (never replacing an earlier one)."""
        ...

    async def latest_anchor(self, case_id: str) -> ChainAnchor | None:
        """The anchor with the highest entry count for the case, or None."""
        ...


class BlobStore(Protocol):
    """Write-once, content-addressed files (.eml, screenshots), keyed by SHA-256."""

    async def put(self, data: bytes) -> str:
        """Store ``data`` (no-op if present) and return its SHA-256."""
        ...

    async def read(self, sha256: str) -> bytes:
        """The bytes, verified; ``BlobNotFound`` or ``BlobCorrupted``."""
        ...

    def chunks(self, sha256: str) -> AsyncIterator[bytes]:
        """The bytes in chunks; raises ``BlobCorrupted`` at the end if they do not match."""
        ...

    async def exists(self, sha256: str) -> bool:
        """Whether a file with this SHA-256 is stored."""
        ...


class Store(IncidentRepository, EvidenceRepository, EmailEvidenceLog, ChainHeads, Protocol):
    """Everything Mamoru persists: incidents, timelines and evidence logs."""

    async def record_emails(
        self, case_id: str, batch: Sequence[tuple[EmailEvidence, bytes]]
    ) -> list[SealedEntry]:
        """``record_email`` for many mails: files first, then one transaction for the rows."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


# --- Durable jobs (issue 5, item 4).
from collections.abc import Mapping  # noqa: E402
from typing import Any  # noqa: E402

from bot.domain.jobs import Job, JobSpec, OutboxMessage  # noqa: E402


class JobQueue(Protocol):
    """Durable jobs claimed under a lease; every write is checked against the lease owner.

    A worker that lost its lease (expired and reclaimed, or the job was cancelled) gets
    ``False`` from ``heartbeat`` and ``LeaseLost`` from the other writes, and must stop.
    """

    async def enqueue(self, spec: JobSpec) -> Job:
        """Queue ``spec`` to run now; the same ``idempotency_key`` returns the existing job."""
        ...

    async def claim(self, worker_id: str, *, lease: dt.timedelta) -> Job | None:
        """Take the next due job (or one whose lease expired): attempts + 1, leased to us."""
        ...

    async def heartbeat(self, job_id: str, worker_id: str, lease: dt.timedelta) -> bool:
        """Extend our lease to now + ``lease``; ``False`` if we no longer hold it."""
        ...

    async def save_progress(
        self,
        job_id: str,
        worker_id: str,
        done: int,
        total: int,
        checkpoint: Mapping[str, Any],
        *,
        lease: dt.timedelta | None = None,
    ) -> None:
        """Record progress and the resume point (and extend the lease); ``LeaseLost``."""
        ...

    async def complete(self, job_id: str, worker_id: str) -> Job:
        """Mark the job succeeded; raises ``LeaseLost`` if we no longer hold it."""
        ...

    async def fail(
        self,
        job_id: str,
        worker_id: str,
        error: str,
        *,
        retry_at: dt.datetime | None,
        wait_reason: str | None = None,
    ) -> Job:
        """Record ``error`` (a short code); queue again at ``retry_at``, or fail for good.

        With ``wait_reason`` (a transient fault) the attempt is given back.
        """
        ...

    async def resume(self, job_id: str) -> Job:
        """Queue a failed or cancelled job again from its checkpoint (else unchanged)."""
        ...

    async def release(self, job_id: str, worker_id: str) -> Job:
        """Give the job back untried (graceful shutdown): queued, due now, attempt refunded."""
        ...

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job that has not finished; its worker's next write gets ``LeaseLost``."""
        ...

    async def get(self, job_id: str) -> Job:
        """The job; raises ``JobNotFound``."""
        ...

    async def jobs_for_incident(self, incident_id: str) -> list[Job]:
        """The incident's jobs, oldest first."""
        ...

    async def recent_jobs(self, *, limit: int = 50) -> list[Job]:
        """The most recently created jobs, newest first (for ``mamoru jobs list``)."""
        ...

    async def mark_once(self, key: str) -> bool:
        """Record ``key``; ``True`` only for the first caller ever (mark BEFORE the effect)."""
        ...

    # The notice outbox (at least once, never lost; see bot/cases/staff_notices.py).

    async def outbox_add(
        self, message: OutboxMessage, owner: str, lease: dt.timedelta
    ) -> OutboxMessage | None:
        """Store ``message`` leased to ``owner``; None if its key was stored before."""
        ...

    async def outbox_claim(
        self, owner: str, lease: dt.timedelta, *, limit: int = 50
    ) -> list[OutboxMessage]:
        """Lease to ``owner`` the undelivered messages nobody holds (their sender died)."""
        ...

    async def outbox_done(self, key: str, owner: str, outcome: str) -> bool:
        """Record the outcome if ``owner`` still holds the message; False if it lost it."""
        ...

    async def outbox_retry(self, key: str, owner: str, after: dt.timedelta) -> bool:
        """A send failed: give the message up, to be taken again ``after`` from now."""
        ...

    async def outbox_for_incident(self, incident_id: str) -> list[OutboxMessage]:
        """The case's messages, oldest first (tests, support)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


# --- Escalation (issue 5): who manages, and where Mamoru talks to whom.
class Directory(Protocol):
    """Who holds which role, and in which department (configured ids and/or Entra groups)."""

    async def viewer(self, object_id: str) -> Viewer:
        """The person with this Entra object id and the roles they hold now."""
        ...

    async def is_manager(self, object_id: str) -> bool:
        """Whether the person manages at least one department now."""
        ...

    async def department_of(self, object_id: str) -> str:
        """The id of the department the person belongs to (reports go there)."""
        ...

    def department_name(self, department_id: str) -> str:
        """The department's display name."""
        ...


class DepartmentChannels(Protocol):
    """Each department's managers' channel (a domain fact: its own table)."""

    async def set_channel(self, channel: ManagersChannel) -> None:
        """Make ``channel`` its department's managers' channel (replacing any earlier one)."""
        ...

    async def channel_of(self, department: str) -> ManagersChannel | None:
        """The department's managers' channel, if registered."""
        ...

    async def departments_of_channel(self, channel_id: str) -> frozenset[str]:
        """The departments whose managers' channel ``channel_id`` is."""
        ...


class Registry(Protocol):
    """Small named records the Teams layer keeps: channels, conversation references, threads.

    ``kind`` groups records (``channel``, ``user``, ``thread``); values are JSON objects.
    """

    async def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        """Create or replace the record ``kind``/``key``."""
        ...

    async def merge_many(self, kind: str, fields: dict[str, dict[str, Any]]) -> None:
        """Set the given fields of each record (created if missing), keeping its other fields,
        in one atomic upsert per record (no read-then-put race between instances)."""
        ...

    async def get(self, kind: str, key: str) -> dict[str, Any] | None:
        """The record, or None."""
        ...

    async def all(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every record of ``kind``, by key."""
        ...

    async def increment(self, kind: str, key: str) -> int:
        """Add one to the counter ``kind``/``key`` (0 when new) and return it, atomically.

        Two callers, in one process or several, never get the same number.
        """
        ...

    async def get_many(self, kind: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The records of ``kind`` among ``keys`` that exist, by key (one read)."""
        ...

    async def put_many(self, kind: str, values: dict[str, dict[str, Any]]) -> None:
        """Create or replace several records of ``kind`` (one write transaction)."""
        ...


# --- Case tasks (issue 13 item 8).
from bot.domain.tasks import CaseTask, TaskKind  # noqa: E402


class TaskRepository(Protocol):
    """The manual tasks of each case (one per case and kind)."""

    async def add_tasks(self, tasks: Sequence[CaseTask]) -> list[CaseTask]:
        """Insert the tasks whose (case, kind) is new; returns those inserted."""
        ...

    async def tasks_of(self, incident_id: str) -> list[CaseTask]:
        """The case's tasks, in the order created."""
        ...

    async def tasks_of_many(self, incident_ids: Sequence[str]) -> dict[str, list[CaseTask]]:
        """The tasks of several cases at once (the case list), by case id."""
        ...

    async def save_task(self, task: CaseTask) -> None:
        """Store the task's owner and done fields; raises ``TaskNotFound``."""
        ...

    async def get_task(self, incident_id: str, kind: TaskKind) -> CaseTask:
        """The case's task ``kind``; raises ``TaskNotFound``."""
        ...

    async def open_overdue(self, today: dt.date) -> list[CaseTask]:
        """Every task not done whose due date is before ``today``."""
        ...


# --- Decisions (issue 12): one transaction per decision.
from bot.domain.decisions import DecidedCase, DecisionRecord, Planner  # noqa: E402


class DecisionLog(Protocol):
    """Managers' decisions, each written with its state change and jobs in one transaction."""

    async def decide(
        self,
        incident_id: str,
        planner: Planner,
        *,
        actor: Person,
        known: Incident | None = None,
    ) -> DecidedCase:
        """Lock the case, ask ``planner`` what to write, write all of it or nothing.

        ``known``: the case as the caller just read it (its access check); reused when
        its state still holds under the lock, instead of reading the case again.

        Raises what the planner raises (``DecisionRefused``), ``InvalidTransition`` if the
        case cannot move any more, ``IncidentNotFound``.
        """
        ...

    async def decision_of(self, incident_id: str) -> DecisionRecord | None:
        """The case's decision, or None while undecided."""
        ...


# --- The organisation's figures (issue 15).
from bot.domain.figures import PeriodCounts  # noqa: E402


class FigureQueries(Protocol):
    """Counts over the cases reported in a period, computed where the cases are."""

    async def period_counts(
        self, start: dt.date, end: dt.date, *, today: dt.date, viewer: Viewer | None = None
    ) -> PeriodCounts:
        """The counts of the cases reported from ``start`` to ``end`` (inclusive, JST).

        With ``viewer``: also the ids of the cases of the period they may open.
        """
        ...


# --- Organisational cases (issue 15): membership and each member's chain note together.
from bot.domain.org_cases import OrgCase  # noqa: E402


class OrgCaseRepository(Protocol):
    """Organisational cases: membership history, written with each member's evidence note."""

    async def org_cases_of(self, incident_ids: Sequence[str]) -> dict[str, str]:
        """The organisational case each of ``incident_ids`` is a member of now (if any)."""
        ...

    async def get_org_case(self, org_id: str) -> OrgCase:
        """The organisational case with its membership history; ``OrgCaseNotFound``."""
        ...

    async def merge_cases(self, into: str, cases: Sequence[Incident], *, by: Person) -> OrgCase:
        """Make ``cases`` members of ``into`` ("" for a new one) and note it in every
        member's chain, in one transaction; ``MemberElsewhere`` if one is in another."""
        ...

    async def remove_from_org_case(self, org_id: str, incident_id: str, *, by: Person) -> OrgCase:
        """Take ``incident_id`` out (its membership row stays) and note it in the chains."""
        ...

    async def merge_org_cases(
        self, first: str, second: str, confirmed: Sequence[str], *, by: Person
    ) -> OrgCase:
        """Move every member of the younger organisational case into the older one, note it
        in every member's chain and record where they went, in one transaction;
        ``OrgCaseChanged`` unless the members are exactly ``confirmed``."""
        ...
