"""Manual tasks on a case: what people must do after a manager's approval, by whom, by when.

An approved action that no machine carries out (a platform report, a police or legal
consultation, safety measures, a 1:1 follow-up, asking IT for a domain filter) becomes
one or more tasks. Each has an owner (a manager of the department), a due date, and
is marked done by a manager. Overdue open tasks are reminded to their owner.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from bot.domain.errors import DomainError


class TaskKind(StrEnum):
    """What a task asks someone to do."""

    PLATFORM_REPORT = "platform-report"  # report the posts through the platform's channel
    POLICE_CONSULTATION = "police-consultation"
    LEGAL_CONSULTATION = "legal-consultation"  # lawyer: sender-information disclosure
    IT_DOMAIN_FILTER = "it-domain-filter"  # ask IT to filter the whole domain
    OFF_COUNTER = "off-counter"  # safety measures, three concrete steps
    SAFE_COMMUTE = "safe-commute"
    SURNAME_TAG = "surname-tag"
    FOLLOWUP_1ON1 = "followup-1on1"  # care: a 1:1 follow-up (also put in the calendar)
    PHYSICIAN = "physician-referral"


# Which tasks each approved action (an ActionKind value) creates, and in how many days
# they are due. Actions a job carries out (mail protection, organisation mails) have none.
TASKS_FOR_ACTION: dict[str, tuple[tuple[TaskKind, int], ...]] = {
    "platform-report": ((TaskKind.PLATFORM_REPORT, 2),),
    "police-consultation": ((TaskKind.POLICE_CONSULTATION, 3),),
    "legal-consultation": ((TaskKind.LEGAL_CONSULTATION, 7),),
    "it-domain-filter": ((TaskKind.IT_DOMAIN_FILTER, 2),),
    "safety-measures": (
        (TaskKind.OFF_COUNTER, 1),
        (TaskKind.SAFE_COMMUTE, 1),
        (TaskKind.SURNAME_TAG, 3),
    ),
    "care-followup": ((TaskKind.FOLLOWUP_1ON1, 3), (TaskKind.PHYSICIAN, 7)),
}


@dataclass(frozen=True, slots=True)
class CaseTask:
    """One task on a case: who owns it, when it is due, whether (and by whom) it is done."""

    incident_id: str
    kind: TaskKind
    owner_id: str
    owner_name: str
    due: dt.date
    created_at: dt.datetime
    done_at: dt.datetime | None = None
    done_by: str = ""  # display name of who marked it done

    @property
    def done(self) -> bool:
        """Whether someone marked it done."""
        return self.done_at is not None

    def overdue(self, today: dt.date) -> bool:
        """Whether it is still open after its due date."""
        return not self.done and today > self.due

    def assigned_to(self, owner_id: str, owner_name: str) -> CaseTask:
        """This task with another owner (its due date stays)."""
        return replace(self, owner_id=owner_id, owner_name=owner_name)

    def marked_done(self, by: str, at: dt.datetime) -> CaseTask:
        """This task done by ``by`` at ``at``; a task already done keeps its first record."""
        return self if self.done else replace(self, done_at=at, done_by=by)


def tasks_for(
    incident_id: str,
    action: str,
    *,
    owner_id: str,
    owner_name: str,
    at: dt.datetime,
    today: dt.date,
) -> tuple[CaseTask, ...]:
    """The tasks approving ``action`` creates (none for actions a job carries out)."""
    return tuple(
        CaseTask(
            incident_id=incident_id,
            kind=kind,
            owner_id=owner_id,
            owner_name=owner_name,
            due=today + dt.timedelta(days=days),
            created_at=at,
        )
        for kind, days in TASKS_FOR_ACTION.get(action, ())
    )


class TaskNotFound(DomainError):
    """The case has no task of this kind (or the case does not exist)."""

    def __init__(self, incident_id: str, kind: str) -> None:
        super().__init__(f"{incident_id} has no task {kind}")
        self.incident_id = incident_id
        self.kind = kind
