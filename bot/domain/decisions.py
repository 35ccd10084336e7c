"""A manager's decision on a case, and what one decision writes as a single unit of work.

The decision is part of its case: the state change, the decision record, the
approved jobs, the tasks for people it creates and the organisation mails' drafts it
approves (each with its reference number, drawn from a counter in the same transaction)
are written together or not at all (``DecisionLog.decide``). Which actions are proposed
and who may decide stay in ``bot.domain.escalation``; this module only says what gets
written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.domain.escalation import ActionKind, Decision
from bot.domain.incidents import Incident, IncidentState, Person
from bot.domain.jobs import Job, JobSpec
from bot.domain.tasks import CaseTask


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A decision as taken: by whom, when, with which approved actions."""

    incident_id: str
    decision: Decision
    by: Person
    at: dt.datetime
    comment: str = ""
    actions: tuple[ActionKind, ...] = ()


@dataclass(frozen=True, slots=True)
class KeyedRecord:
    """A small record a decision writes beside it, by (kind, key): a mail's draft..."""

    kind: str
    key: str
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Numbered:
    """Records that carry numbers drawn from a counter inside the decision's transaction.

    ``build`` gets ``count`` consecutive numbers of the counter (kind, key) and returns the
    records to write: the organisation mails' drafts with their reference numbers, so a
    number is used only by a decision that was written.
    """

    counter_kind: str
    counter_key: str
    count: int
    build: Callable[[tuple[int, ...]], tuple[KeyedRecord, ...]]


@dataclass(frozen=True, slots=True)
class DecisionPlan:
    """What one decision writes: the move of the case, the record, the approved jobs, the
    tasks for people (police consultation, care follow-up...) and keyed records (the
    drafts of the mails it approves, a reason given)."""

    target: IncidentState
    note: str
    record: DecisionRecord
    jobs: tuple[JobSpec, ...] = ()
    tasks: tuple[CaseTask, ...] = ()
    records: tuple[KeyedRecord, ...] = ()
    numbered: Numbered | None = None


@dataclass(frozen=True, slots=True)
class DecidedCase:
    """The outcome of a decision, as written: enough to render the answer without reading."""

    incident: Incident
    record: DecisionRecord
    jobs: tuple[Job, ...]
    tasks: tuple[CaseTask, ...] = ()
    records: tuple[KeyedRecord, ...] = ()  # the plan's records and its numbered ones


# Given the case as locked inside the transaction, the plan (or ``DecisionRefused``).
Planner = Callable[[Incident], DecisionPlan]
