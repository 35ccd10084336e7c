"""A manager's decision on a case, and what one decision writes as a single unit of work.

The decision is part of its case: the state change, the decision record, the
approved jobs and the tasks for people it creates are written together or not at all
(``DecisionLog.decide``). Which actions are proposed and who may decide stay in
``bot.domain.escalation``; this module only says what gets written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

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
class DecisionPlan:
    """What one decision writes: the move of the case, the record, the approved jobs and
    the tasks for people (police consultation, care follow-up...)."""

    target: IncidentState
    note: str
    record: DecisionRecord
    jobs: tuple[JobSpec, ...] = ()
    tasks: tuple[CaseTask, ...] = ()


@dataclass(frozen=True, slots=True)
class DecidedCase:
    """The outcome of a decision, as written: enough to render the answer without reading."""

    incident: Incident
    record: DecisionRecord
    jobs: tuple[Job, ...]
    tasks: tuple[CaseTask, ...] = ()


# Given the case as locked inside the transaction, the plan (or ``DecisionRefused``).
Planner = Callable[[Incident], DecisionPlan]
