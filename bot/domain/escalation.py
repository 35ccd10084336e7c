"""Escalation and approval: what the playbook proposes, and who may decide.

A case reported by a staff member is decided by a manager of the department:
never by the reporter or a targeted person, never twice. The rules live here;
the Teams layer only renders them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.errors import DomainError
from bot.domain.incidents import Incident, IncidentState, IncidentType, Person
from bot.domain.linking import FREE_MAIL_DOMAINS


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


# Only evidence preservation may be pre-selected: it keeps everything and sends nothing.
# Whatever leaves the building (a mail, a report to police, a request to block a domain)
# is opt-in, chosen by a manager who read why it is proposed.
PRESELECTED = frozenset({ActionKind.MAIL_PROTECTION})

# Figures that make an action proportionate (mails from the sender per day in the mailbox).
MAIL_BOMB_PER_DAY = 500  # a domain-wide block is for volumes that burden the mail server
OBSTRUCTION_PER_DAY = 100  # so many a day that the office cannot work: obstruction of duties
REPEATED_MAILS = 10  # enough repeated mails that a one-time cut-off notice is proportionate

_THREAT = re.compile(
    r"殺|刺す|刺して|燃やす|火をつけ|火を付け|放火|爆破|爆弾|危害|ぶっ|覚えて(お|ろ)|"
    r"ただじゃ(おか|済ま)|家を知って|家まで行|待ち伏せ|つけ回|付け回|後をつけ|脅迫|脅さ|"
    r"\bkill\b|\bhurt you\b|\bbomb\b|\bburn\b",
    re.IGNORECASE,
)
_OBSTRUCTION = re.compile(
    r"業務妨害|業務が(止ま|回らな|でき)|仕事にならな|仕事が(止ま|でき)|居座|何時間も|"
    r"鳴りやま|鳴り止ま|大声で|怒鳴|窓口(を|が)(占拠|ふさ|塞)|\bobstruct",
    re.IGNORECASE,
)


def threat_indicated(incident: Incident) -> bool:
    """Whether the report marks or describes a threat to someone's safety."""
    return incident.physical_threat or bool(_THREAT.search(incident.summary))


def obstruction_described(incident: Incident) -> bool:
    """Whether the report describes work being obstructed (sit-ins, hours of calls...)."""
    return bool(_OBSTRUCTION.search(incident.summary))


@dataclass(frozen=True, slots=True)
class MailCounts:
    """What Mamoru counted in the staff member's mailbox for the counterpart's address."""

    total: int
    days: int  # calendar days (JST) from the first to the last mail, at least 1
    peak_per_day: int  # the most mails on one day
    sender_name: str = ""  # the name the sender writes in From, when any
    latest_at: dt.datetime | None = None  # the newest mail's arrival

    @property
    def per_day(self) -> float:
        """Mails per day on average over ``days``."""
        return self.total / max(self.days, 1)


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What Mamoru can count about a case; proposals and the card's figures come from it."""

    mail: MailCounts | None = None  # None: not counted (no address, or mailbox not reachable)
    sns_posts: int = 0  # posts recorded as evidence
    sns_platforms: int = 0  # on how many platforms
    refusal_sent_at: dt.datetime | None = None  # personal fixation: the section's refusal
    mail_after_refusal: int = 0  # personal mails that arrived after the refusal was sent
    skip_reason: str = ""  # a manager's recorded reason to send the final warning directly


class ProposalReason(StrEnum):
    """Why an action is (or is not yet) proposed for this case; one card line each."""

    PRESERVE = "preserve"
    REPEATED = "repeated"  # many repeated mails: cut-off notice
    FEW_MAILS = "few-mails"  # offered, but the figures do not call for it
    NOT_COUNTED = "not-counted"  # the mailbox could not be counted
    MAIL_BOMB = "mail-bomb"
    THREAT = "threat"
    OBSTRUCTION = "obstruction"
    NO_THREAT = "no-threat"  # police offered but nothing indicates a threat or obstruction
    FIRST_REFUSAL = "first-refusal"
    AFTER_REFUSAL = "after-refusal"  # final warning: refusal sent and further mail arrived
    SKIP_RECORDED = "skip-recorded"  # final warning: a manager recorded why to skip
    REFUSAL_FIRST = "refusal-first"  # final warning not yet offered: refusal comes first
    WAIT_FOR_MAIL = "wait-for-mail"  # refusal sent, no further personal mail yet
    SAFETY = "safety"
    SPREAD = "spread"
    PLAYBOOK = "playbook"  # proposed by the case's playbook


@dataclass(frozen=True, slots=True)
class Proposal:
    """One proposed action: whether it starts selected, whether it can be chosen, and why."""

    kind: ActionKind
    reason: ProposalReason
    preselected: bool = False
    available: bool = True  # False: shown with its reason, not selectable (yet)


def proposals_for(incident: Incident) -> tuple[ActionKind, ...]:
    """The actions the playbook proposes for ``incident`` that its facts make possible."""
    has_address = bool(incident.counterparts.emails or incident.counterparts.domains)
    proposed = PROPOSALS.get(incident.type, ())
    return tuple(k for k in proposed if has_address or k not in _NEEDS_ADDRESS)


def _counterpart_domain(incident: Incident) -> str:
    counterparts = incident.counterparts
    if counterparts.domains:
        return counterparts.domains[0].lower()
    return counterparts.emails[0].rpartition("@")[2].lower() if counterparts.emails else ""


def propose(
    incident: Incident, facts: CaseFacts, *, shared_domains: frozenset[str] = FREE_MAIL_DOMAINS
) -> tuple[Proposal, ...]:
    """The proportionate proposals for ``incident`` given what Mamoru counted.

    A domain block appears only for mail-bomb volumes, and never for a domain anyone can get
    an address at (``shared_domains``: gmail.com, docomo.ne.jp...): blocking it would stop
    every resident writing from there, so the sender's own address rule has to do. Police
    is recommended when a threat or obstruction is indicated (still opt-in); in a
    personal-fixation case the final warning is selectable only after the refusal went out
    and another personal mail arrived, or when a manager recorded why the refusal step is
    skipped.
    """
    threat = threat_indicated(incident)
    mail = facts.mail
    flood = mail is not None and mail.peak_per_day >= OBSTRUCTION_PER_DAY
    bomb = mail is not None and mail.peak_per_day >= MAIL_BOMB_PER_DAY
    result: list[Proposal] = []
    for kind in proposals_for(incident):
        if kind is ActionKind.MAIL_PROTECTION:
            result.append(Proposal(kind, ProposalReason.PRESERVE, preselected=True))
        elif kind is ActionKind.IT_DOMAIN_FILTER:
            if bomb and _counterpart_domain(incident) not in shared_domains:
                result.append(Proposal(kind, ProposalReason.MAIL_BOMB))
        elif kind is ActionKind.CUTOFF_DECLARATION:
            if mail is None:
                result.append(Proposal(kind, ProposalReason.NOT_COUNTED))
            elif mail.total >= REPEATED_MAILS:
                result.append(Proposal(kind, ProposalReason.REPEATED))
            else:
                result.append(Proposal(kind, ProposalReason.FEW_MAILS))
        elif kind is ActionKind.POLICE_CONSULTATION:
            if threat:
                result.append(Proposal(kind, ProposalReason.THREAT))
            elif flood or obstruction_described(incident):
                result.append(Proposal(kind, ProposalReason.OBSTRUCTION))
            else:
                result.append(Proposal(kind, ProposalReason.NO_THREAT))
        elif kind is ActionKind.REFUSAL_REPLY:
            if facts.refusal_sent_at is None:
                result.append(Proposal(kind, ProposalReason.FIRST_REFUSAL))
        elif kind is ActionKind.FINAL_WARNING:
            result.append(final_warning_proposal(facts))
        elif kind is ActionKind.SAFETY_MEASURES:
            reason = ProposalReason.THREAT if threat else ProposalReason.SAFETY
            result.append(Proposal(kind, reason))
        elif kind in (ActionKind.PLATFORM_REPORT, ActionKind.LEGAL_CONSULTATION):
            reason = ProposalReason.SPREAD if facts.sns_posts else ProposalReason.PLAYBOOK
            result.append(Proposal(kind, reason))
        else:
            result.append(Proposal(kind, ProposalReason.PLAYBOOK))
    return tuple(result)


def final_warning_proposal(facts: CaseFacts) -> Proposal:
    """Whether the manager's final warning may be chosen now (personal fixation, in order)."""
    kind = ActionKind.FINAL_WARNING
    if facts.skip_reason.strip():
        return Proposal(kind, ProposalReason.SKIP_RECORDED)
    if facts.refusal_sent_at is None:
        return Proposal(kind, ProposalReason.REFUSAL_FIRST, available=False)
    if facts.mail_after_refusal <= 0:
        return Proposal(kind, ProposalReason.WAIT_FOR_MAIL, available=False)
    return Proposal(kind, ProposalReason.AFTER_REFUSAL)


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
REASON_REQUIRED = "reason-required"  # a rejection tells the staff member why
REFUSAL_FIRST = "refusal-first"  # the final warning before the section's refusal
BOTH_WARNINGS = "both-warnings"  # refusal and final warning at once contradict each other

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
    comment: str = "",
    skip_reason: str = "",
) -> None:
    """Raise ``DecisionRefused`` unless ``actor`` may take ``decision`` on ``incident`` now."""
    if not is_manager:
        raise DecisionRefused(incident.id, NOT_A_MANAGER)
    if involved(incident, actor):
        raise DecisionRefused(incident.id, OWN_CASE)
    if incident.state not in DECIDABLE:
        raise DecisionRefused(incident.id, ALREADY_DECIDED)
    if decision is Decision.REJECT and not comment.strip():
        raise DecisionRefused(incident.id, REASON_REQUIRED)
    if decision is Decision.APPROVE and not selected:
        raise DecisionRefused(incident.id, NOTHING_SELECTED)
    if ActionKind.FINAL_WARNING in selected:
        if ActionKind.REFUSAL_REPLY in selected:
            raise DecisionRefused(incident.id, BOTH_WARNINGS)
        if not skip_reason.strip():
            raise DecisionRefused(incident.id, REFUSAL_FIRST)


@dataclass(frozen=True, slots=True)
class ApprovedAction:
    """One approved action with what the manager set for it (e.g. the edited mail draft)."""

    kind: ActionKind
    draft: str = ""  # organisation mails: the text as approved

    @property
    def mode(self) -> ActionMode:
        """How it is carried out."""
        return mode_of(self.kind)
