"""An in-memory ``Store``: the fake for fast tests, with the SQL store's semantics.

Same id numbering, idempotency, access rule, state machine and chain; no persistence.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field

from bot.domain.access import Viewer, can_view
from bot.domain.errors import AccessDenied, IncidentNotFound
from bot.domain.evidence import (
    GENESIS_HASH,
    ChainHead,
    EvidenceItem,
    NoteItem,
    SealedEntry,
    dedup_key,
    seal,
)
from bot.domain.incidents import (
    Incident,
    IncidentDraft,
    IncidentState,
    Person,
    TimelineEvent,
    format_incident_id,
    incident_year,
    open_incident,
)
from bot.domain.linking import index_keys
from bot.domain.ports import BlobStore, Clock, SystemClock
from bot.store.common import EmailLogMixin, scoped_key


@dataclass
class _Case:
    incident: Incident
    entries: list[SealedEntry] = field(default_factory=list)
    keys: dict[str, SealedEntry] = field(default_factory=dict)

    @property
    def head(self) -> ChainHead:
        last = self.entries[-1] if self.entries else None
        return ChainHead(len(self.entries), last.hash if last else GENESIS_HASH)


class MemoryStore(EmailLogMixin):
    """``Store`` held in dictionaries."""

    def __init__(self, *, blobs: BlobStore, clock: Clock | None = None) -> None:
        self._blobs = blobs
        self._clock = clock or SystemClock()
        self._cases: dict[str, _Case] = {}
        self._by_key: dict[str, str] = {}
        self._sequences: dict[int, int] = {}
        self._by_counterpart: dict[str, set[str]] = {}  # counterpart key -> case ids
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        """Nothing to release."""

    def _case(self, incident_id: str) -> _Case:
        case = self._cases.get(incident_id)
        if case is None:
            raise IncidentNotFound(incident_id)
        return case

    async def create_incident(self, draft: IncidentDraft, *, idempotency_key: str) -> Incident:
        """Open an incident; the same ``idempotency_key`` returns the incident already made."""
        idempotency_key = scoped_key(draft, idempotency_key)
        async with self._lock:
            if idempotency_key in self._by_key:
                return self._cases[self._by_key[idempotency_key]].incident
            now = self._clock.now()
            year = incident_year(now)
            number = self._sequences.get(year, 0) + 1
            incident = open_incident(draft, incident_id=format_incident_id(year, number), at=now)
            case = _Case(incident)
            # Built fully before being published, so a failure leaves nothing behind.
            self._append_to(case, NoteItem(draft.summary, statement=True), draft.reporter)
            self._sequences[year] = number
            self._cases[incident.id] = case
            self._by_key[idempotency_key] = incident.id
            for key in index_keys(incident.counterparts):
                self._by_counterpart.setdefault(key, set()).add(incident.id)
            return incident

    async def load_incident(self, incident_id: str) -> Incident:
        """The incident without an access check."""
        return self._case(incident_id).incident

    async def get_incident(self, incident_id: str, viewer: Viewer) -> Incident:
        """The incident if ``viewer`` may see it."""
        incident = self._case(incident_id).incident
        if not can_view(incident, viewer):
            raise AccessDenied(incident_id, viewer.object_id)
        return incident

    async def list_incidents(self, viewer: Viewer, *, limit: int = 50) -> list[Incident]:
        """The incidents ``viewer`` may see, newest first."""
        visible = [c.incident for c in self._cases.values() if can_view(c.incident, viewer)]
        visible.sort(key=lambda i: (i.created_at, i.id), reverse=True)
        return visible[:limit]

    async def cases_sharing(self, keys: Collection[str]) -> list[Incident]:
        """The cases indexed under any of ``keys``, oldest first."""
        ids = set().union(*(self._by_counterpart.get(k, set()) for k in keys))
        found = [self._cases[i].incident for i in ids]
        return sorted(found, key=lambda i: (i.created_at, i.id))

    async def transition(
        self, incident_id: str, target: IncidentState, *, actor: Person, note: str = ""
    ) -> Incident:
        """Move the incident to ``target``; raises ``InvalidTransition`` if not allowed."""
        async with self._lock:
            case = self._case(incident_id)
            case.incident = case.incident.moved_to(
                target, actor=actor, at=self._clock.now(), note=note
            )
            return case.incident

    async def add_event(self, incident_id: str, event: TimelineEvent) -> Incident:
        """Append a timeline event that does not change the state."""
        async with self._lock:
            case = self._case(incident_id)
            case.incident = case.incident.with_event(event)
            return case.incident

    def _append_to(self, case: _Case, item: EvidenceItem, recorded_by: Person) -> SealedEntry:
        key = dedup_key(item)
        if key is not None and key in case.keys:
            return case.keys[key]
        head = case.head
        entry = seal(
            case_id=case.incident.id,
            seq=head.count + 1,
            prev_hash=head.hash,
            recorded_at=self._clock.now(),
            recorded_by=recorded_by,
            item=item,
        )
        case.entries.append(entry)
        if key is not None:
            case.keys[key] = entry
        return entry

    async def append_evidence(
        self, case_id: str, item: EvidenceItem, *, recorded_by: Person
    ) -> SealedEntry:
        """Chain ``item`` after the case's head (an already recorded email is returned)."""
        async with self._lock:
            return self._append_to(self._case(case_id), item, recorded_by)

    async def append_many(
        self, case_id: str, items: Sequence[EvidenceItem], *, recorded_by: Person
    ) -> list[SealedEntry]:
        """Chain ``items`` in order, all or none."""
        async with self._lock:
            case = self._case(case_id)
            before = (list(case.entries), dict(case.keys))
            try:
                return [self._append_to(case, item, recorded_by) for item in items]
            except BaseException:
                case.entries, case.keys = before  # all or none, like the SQL transaction
                raise

    async def iter_evidence(
        self, case_id: str, *, upto: int | None = None
    ) -> AsyncIterator[SealedEntry]:
        """The case's entries in chain order."""
        entries = self._cases[case_id].entries if case_id in self._cases else []
        for entry in entries[:upto]:
            yield entry

    async def evidence_head(self, case_id: str) -> ChainHead:
        """The head of the case's chain."""
        return self._case(case_id).head

    async def chain_heads(self) -> AsyncIterator[tuple[str, ChainHead]]:
        """``(case id, head)`` of every case with entries."""
        for case_id, case in list(self._cases.items()):
            if case.head.count:
                yield case_id, case.head

    async def _email_keys(self, case_id: str) -> set[str]:
        return set(self._case(case_id).keys)
