"""Escalation and approval: what the playbook proposes, and who may decide.

A case reported by a staff member is decided by a manager of the department:
never by the reporter or a targeted person, never twice. The rules live here;
the Teams layer only renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.errors import DomainError
from bot.domain.incidents import Incident, IncidentState, IncidentType, Person


class ActionKind(StrEnum):
    """An action a manager can approve on a case."""

    MAIL_PROTECTION = "mail-protection"  # evidence folder + inbox rule + archive existing mail
    CUTOFF_DECLARATION = "cutoff-declaration"  # the one-time "no further answers" mail
    IT_DOMAIN_FILTER = "it-domain-filter"  # ask IT to filter the whole domain
    POLICE_CONSULTATION = "police-consultation"
    REFUSAL_REPLY = "refusal-reply"  # the section's refusal of a personal approach
    FINAL_WARNING = "final-warning"  # the manager's last warning before legal steps
    SAFETY_MEASURES = "safety-measures"  # off counter duty, safe commute, surname-only tag
    CARE_FOLLOWUP = "care-followup"  # 1:1 follow-ups, occupational physician
    PLATFORM_REPORT = "platform-report"  # report the posts through the platform's channel
    LEGAL_CONSULTATION = "legal-consultation"  # lawyer: sender-information disclosure


class ActionMode(StrEnum):
    """How an approved action is carried out."""

    AUTOMATED = "automated"  # a durable job does it (Graph)
    ORGANISATION_MAIL = "organisation-mail"  # a job sends one mail from the department mailbox
    TASK = "task"  # a person does it; tracked on the case with an owner


MODES: dict[ActionKind, ActionMode] = {
    ActionKind.MAIL_PROTECTION: ActionMode.AUTOMATED,
    ActionKind.CUTOFF_DECLARATION: ActionMode.ORGANISATION_MAIL,
    ActionKind.REFUSAL_REPLY: ActionMode.ORGANISATION_MAIL,
    ActionKind.FINAL_WARNING: ActionMode.ORGANISATION_MAIL,
}

# What each kind of case proposes, in the order the manager reads them.
PROPOSALS: dict[IncidentType, tuple[ActionKind, ...]] = {
    IncidentType.MASS_EMAIL: (
        ActionKind.MAIL_PROTECTION,
        ActionKind.CUTOFF_DECLARATION,
        ActionKind.IT_DOMAIN_FILTER,
        ActionKind.POLICE_CONSULTATION,
    ),
    IncidentType.PERSONAL_FIXATION: (
        ActionKind.REFUSAL_REPLY,
        ActionKind.FINAL_WARNING,
        ActionKind.MAIL_PROTECTION,
        ActionKind.SAFETY_MEASURES,
        ActionKind.POLICE_CONSULTATION,
    ),
    IncidentType.SNS_DEFAMATION: (
        ActionKind.PLATFORM_REPORT,
        ActionKind.SAFETY_MEASURES,
        ActionKind.CARE_FOLLOWUP,
        ActionKind.LEGAL_CONSULTATION,
        ActionKind.POLICE_CONSULTATION,
    ),
}

# Actions that need the counterpart's email address (or domain) to be known.
_NEEDS_ADDRESS = {
    ActionKind.MAIL_PROTECTION,
    ActionKind.CUTOFF_DECLARATION,
    ActionKind.REFUSAL_REPLY,
    ActionKind.FINAL_WARNING,
    ActionKind.IT_DOMAIN_FILTER,
}


def mode_of(kind: ActionKind) -> ActionMode:
    """How ``kind`` is carried out once approved."""
    return MODES.get(kind, ActionMode.TASK)


def proposals_for(incident: Incident) -> tuple[ActionKind, ...]:
    """The actions the playbook proposes for ``incident`` that its facts make possible."""
    has_address = bool(incident.counterparts.emails or incident.counterparts.domains)
    proposed = PROPOSALS.get(incident.type, ())
    return tuple(k for k in proposed if has_address or k not in _NEEDS_ADDRESS)


class Decision(StrEnum):
    """A manager's decision on an escalated case."""

    APPROVE = "approve"
    REJECT = "reject"


class DecisionRefused(DomainError):
    """This person may not decide this case now; ``reason`` says why (for the card)."""

    def __init__(self, incident_id: str, reason: str) -> None:
        super().__init__(f"decision on {incident_id} refused: {reason}")
        self.incident_id = incident_id
        self.reason = reason


NOT_A_MANAGER = "not-a-manager"
OWN_CASE = "own-case"
ALREADY_DECIDED = "already-decided"
NOTHING_SELECTED = "nothing-selected"

DECIDABLE = frozenset({IncidentState.ESCALATED})


def involved(incident: Incident, person: Person) -> bool:
    """Whether ``person`` reported the case or is one of its targets."""
    ids = {incident.reporter.object_id, *(t.object_id for t in incident.targets)}
    return person.object_id in ids


def check_decision(
    incident: Incident,
    actor: Person,
    *,
    is_manager: bool,
    decision: Decision,
    selected: tuple[ActionKind, ...],
) -> None:
    """Raise ``DecisionRefused`` unless ``actor`` may take ``decision`` on ``incident`` now."""
    if not is_manager:
        raise DecisionRefused(incident.id, NOT_A_MANAGER)
    if involved(incident, actor):
        raise DecisionRefused(incident.id, OWN_CASE)
    if incident.state not in DECIDABLE:
        raise DecisionRefused(incident.id, ALREADY_DECIDED)
    if decision is Decision.APPROVE and not selected:
        raise DecisionRefused(incident.id, NOTHING_SELECTED)


@dataclass(frozen=True, slots=True)
class ApprovedAction:
    """One approved action with what the manager set for it (e.g. the edited mail draft)."""

    kind: ActionKind
    draft: str = ""  # organisation mails: the text as approved

    @property
    def mode(self) -> ActionMode:
        """How it is carried out."""
        return mode_of(self.kind)
