"""Incidents: what a staff member reports, its state machine and its timeline.

An incident is immutable: every change returns a new ``Incident`` with one more
``TimelineEvent``, so the store can persist exactly the event that happened.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum

from bot.domain.errors import InvalidIncidentId, InvalidTransition

ID_PREFIX = "KH"
# Case numbers restart each calendar year in Japan, where the staff work.
JST = dt.timezone(dt.timedelta(hours=9), "JST")
_ID_RE = re.compile(r"^KH-(\d{4})-(\d{4,})$")


class IncidentType(StrEnum):
    """The kind of harassment; equals the id of the playbook that handles it."""

    SNS_DEFAMATION = "sns-defamation"
    MASS_EMAIL = "mass-email"
    PERSONAL_FIXATION = "personal-fixation"
    URGENT_SAFETY = "urgent-safety"
    GENERAL_FIRST_RESPONSE = "general-first-response"


class IncidentState(StrEnum):
    """Where an incident is in its life."""

    REPORTED = "reported"
    ESCALATED = "escalated"
    ACTIONS_APPROVED = "actions_approved"
    IN_PROGRESS = "in_progress"
    MONITORING = "monitoring"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"


_S = IncidentState
# The only moves allowed. Closed and rejected cases are never edited, only reopened,
# so the history of a case handed to the police stays readable.
TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    _S.REPORTED: frozenset({_S.ESCALATED, _S.REJECTED}),
    _S.ESCALATED: frozenset({_S.ACTIONS_APPROVED, _S.REJECTED}),
    _S.ACTIONS_APPROVED: frozenset({_S.IN_PROGRESS}),
    _S.IN_PROGRESS: frozenset({_S.MONITORING, _S.CLOSED}),
    _S.MONITORING: frozenset({_S.IN_PROGRESS, _S.CLOSED}),
    _S.CLOSED: frozenset({_S.REOPENED}),
    _S.REJECTED: frozenset({_S.REOPENED}),
    _S.REOPENED: frozenset({_S.ESCALATED, _S.REJECTED}),
}


class EventKind(StrEnum):
    """What a timeline event records."""

    REPORTED = "reported"
    STATE_CHANGED = "state_changed"
    NOTE = "note"
    EXPORTED = "exported"


@dataclass(frozen=True, slots=True)
class Person:
    """Someone in the tenant: Entra object id and the display name at the time."""

    object_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Counterparts:
    """How the harasser can be identified; each list is kept sorted and without duplicates."""

    emails: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    sns_accounts: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Normalised here so equality and storage do not depend on input order.
        for name in ("emails", "domains", "sns_accounts", "urls"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))

    def is_empty(self) -> bool:
        """Whether no identifier is known."""
        return not (self.emails or self.domains or self.sns_accounts or self.urls)


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One thing that happened to an incident: who, when, what."""

    at: dt.datetime
    actor: Person
    kind: EventKind
    from_state: IncidentState | None = None
    to_state: IncidentState | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class IncidentDraft:
    """Everything needed to open an incident, before it has an id."""

    type: IncidentType
    reporter: Person
    department: str
    summary: str
    targets: tuple[Person, ...] = ()
    counterparts: Counterparts = field(default_factory=Counterparts)
    physical_threat: bool = False
    started_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Incident:
    """A reported case of harassment."""

    id: str
    type: IncidentType
    state: IncidentState
    reporter: Person
    targets: tuple[Person, ...]
    department: str
    counterparts: Counterparts
    physical_threat: bool
    summary: str
    started_on: dt.date | None
    created_at: dt.datetime
    timeline: tuple[TimelineEvent, ...] = ()

    def can_move_to(self, target: IncidentState) -> bool:
        """Whether the state machine allows moving to ``target`` now."""
        return target in TRANSITIONS[self.state]

    def moved_to(
        self, target: IncidentState, *, actor: Person, at: dt.datetime, note: str = ""
    ) -> Incident:
        """This incident in state ``target``; raises ``InvalidTransition`` if not allowed."""
        if not self.can_move_to(target):
            raise InvalidTransition(self.id, self.state, target)
        event = TimelineEvent(
            at=at,
            actor=actor,
            kind=EventKind.STATE_CHANGED,
            from_state=self.state,
            to_state=target,
            note=note,
        )
        return replace(self, state=target, timeline=(*self.timeline, event))

    def with_event(self, event: TimelineEvent) -> Incident:
        """This incident with one more timeline event (notes, exports)."""
        return replace(self, timeline=(*self.timeline, event))


def open_incident(draft: IncidentDraft, *, incident_id: str, at: dt.datetime) -> Incident:
    """A new incident from ``draft``, in state ``reported``, with its first timeline event."""
    # Deduplicated by object id, order kept: the same person listed twice is one target.
    unique: dict[str, Person] = {}
    for person in draft.targets or (draft.reporter,):
        unique.setdefault(person.object_id, person)
    targets = tuple(unique.values())
    event = TimelineEvent(
        at=at, actor=draft.reporter, kind=EventKind.REPORTED, to_state=IncidentState.REPORTED
    )
    return Incident(
        id=incident_id,
        type=draft.type,
        state=IncidentState.REPORTED,
        reporter=draft.reporter,
        targets=targets,
        department=draft.department,
        counterparts=draft.counterparts,
        physical_threat=draft.physical_threat,
        summary=draft.summary,
        started_on=draft.started_on,
        created_at=at,
        timeline=(event,),
    )


def format_incident_id(year: int, number: int) -> str:
    """The human id of the ``number``-th incident of ``year``: ``KH-2026-0001``."""
    return f"{ID_PREFIX}-{year:04d}-{number:04d}"


def incident_year(at: dt.datetime) -> int:
    """The year an incident opened at ``at`` is numbered in (the Japanese calendar year)."""
    return at.astimezone(JST).year


def parse_incident_id(value: str) -> tuple[int, int]:
    """``(year, number)`` of an incident id; raises ``InvalidIncidentId``."""
    match = _ID_RE.match(value.strip())
    if match is None:
        raise InvalidIncidentId(value)
    return int(match.group(1)), int(match.group(2))
