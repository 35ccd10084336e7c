"""Case lists and details as the cards show them: scope, state filter, rows, pages.

Plain data; ``bot.cases.listing`` fills it through the access rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.incidents import Incident, IncidentState, Person
from bot.domain.tasks import CaseTask


class Scope(StrEnum):
    """Whose cases a list shows."""

    MANAGED = "managed"  # the departments the viewer manages
    MINE = "mine"  # reported by the viewer or concerning them


class CaseFilter(StrEnum):
    """The state filter of the list."""

    OPEN = "open"
    WAITING = "waiting"
    ACTIVE = "active"
    MONITORING = "monitoring"
    FINISHED = "finished"


_S = IncidentState
FILTER_STATES: dict[CaseFilter, frozenset[IncidentState]] = {
    CaseFilter.OPEN: frozenset(set(_S) - {_S.CLOSED, _S.REJECTED}),
    CaseFilter.WAITING: frozenset({_S.REPORTED, _S.ESCALATED, _S.REOPENED}),
    CaseFilter.ACTIVE: frozenset({_S.ACTIONS_APPROVED, _S.IN_PROGRESS}),
    CaseFilter.MONITORING: frozenset({_S.MONITORING}),
    CaseFilter.FINISHED: frozenset({_S.CLOSED, _S.REJECTED}),
}


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One case in the list, with its task counts."""

    incident: Incident
    age_days: int  # 1 on the day it was reported (Japanese calendar days)
    open_tasks: tuple[CaseTask, ...]
    overdue_tasks: int


@dataclass(frozen=True, slots=True)
class CasePage:
    """One page of the list."""

    scope: Scope
    filter: CaseFilter
    rows: tuple[CaseRow, ...]
    page: int  # 1-based
    pages: int
    count: int  # cases matching the filter, all pages
    downgraded: bool = False  # asked for the managers' list without being a manager


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """One case as its detail card shows it, and what the viewer may do there."""

    incident: Incident
    tasks: tuple[CaseTask, ...]
    can_act: bool  # a manager of the case's department (tasks, decision view, export)
    managers: tuple[Person, ...]  # who a task can be handed to
