"""The escalation card in the managers' channel: the case, the proposed actions, the decision.

One card, two views: managers who may decide see toggles, editable mail texts and
the approve / reject buttons; everyone else sees the state. Teams fetches the
manager view through ``refresh`` (user-specific views, at most 60 user ids).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from bot.domain.escalation import (
    ActionKind,
    ActionMode,
    CaseFacts,
    Decision,
    Proposal,
    ProposalReason,
    mode_of,
    threat_indicated,
)
from bot.domain.incidents import JST, Incident
from bot.domain.linking import LinkedCases
from bot.domain.locale import Locale
from bot.domain.mailbox import protection_target
from bot.domain.playbooks import PlaybookLibrary
from bot.domain.tasks import CaseTask
from cards.elements import Element, card, container, execute, heading, plain, text
from cards.i18n import t
from cards.linking import linked_elements
from cards.status import ActionLine, describe, job_status_label
from cards.tasks import task_checklist
from cards.verbs import Verb

MAX_REFRESH_USERS = 60  # Teams' limit for user-specific views
_DECIDE = {Locale.JA: "判断する", Locale.EN: "Decide"}  # the offer_decide button


class ViewMode(StrEnum):
    """Which view of the card someone gets."""

    DECIDE = "decide"  # a manager who may decide
    READ = "read"  # anyone else


@dataclass(frozen=True, slots=True)
class JobLine:
    """The state of one approved automated action."""

    kind: ActionKind
    state: str
    done: int = 0
    total: int = 0
    error: str = ""
    job_id: str = ""
    wait_reason: str = ""  # waiting out a transient fault: why (job.wait.<reason>)
    next_try: dt.datetime | None = None  # and when it tries again

    @property
    def resumable(self) -> bool:
        """Whether a manager may resume it (failed or stopped)."""
        return self.state in ("failed", "cancelled") and bool(self.job_id)


@dataclass(frozen=True, slots=True)
class Decided:
    """A manager's decision as recorded."""

    decision: Decision
    by: str
    at: dt.datetime
    comment: str = ""
    actions: tuple[ActionKind, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseView:
    """Everything the escalation card shows about one case."""

    incident: Incident
    proposals: tuple[Proposal, ...]
    facts: CaseFacts = field(default_factory=CaseFacts)  # the figures behind the proposals
    drafts: dict[ActionKind, str] = field(default_factory=dict)  # mail bodies, filled
    decided: Decided | None = None
    jobs: tuple[JobLine, ...] = ()  # automated actions (mail protection)
    mails: tuple[ActionLine, ...] = ()  # the organisation's mails and where each stands
    tasks: tuple[CaseTask, ...] = ()  # tasks for people (police, platform, safety, care...)
    today: dt.date | None = None  # in Japan: which open tasks are overdue
    linked: LinkedCases | None = None  # other cases with the same counterpart (issue 15)
    reviewable: tuple[ActionKind, ...] = ()  # approved mails awaiting their preview
    can_prepare_final: bool = False  # fixation: the final warning may be drafted now


def escalation_card(
    view: CaseView,
    library: PlaybookLibrary,
    locale: Locale,
    *,
    mode: ViewMode = ViewMode.READ,
    note_key: str | None = None,
    refresh_user_ids: tuple[str, ...] = (),
    can_export: bool = False,
    offer_decide: bool = False,
) -> Element:
    """The card for ``view`` in ``mode``; ``note_key`` adds a notice (e.g. why read-only).

    ``offer_decide`` (the card everyone sees in the thread): while undecided, a button that
    asks for the clicker's own view, i.e. the decide view for a manager. Clients without
    user-specific views (the Agents Playground ignores ``refresh``) and managers Teams
    does not know yet (not in ``userIds``) reach the approve / reject buttons through it.
    """
    incident = view.incident
    body: list[Element] = [_header(view, library, locale)]
    if view.linked is not None:
        body.extend(linked_elements(view.incident.id, view.linked, locale))
    if note_key:
        body.append(container([text(t(note_key, locale), weight="Bolder")], style="warning"))
    actions: list[Element] = []
    if view.decided is None:
        body.append(heading(t("esc.proposals", locale)))
    if view.decided is None and mode is ViewMode.DECIDE:
        body.append(text(t("esc.select", locale), size="Small", subtle=True))
        body.extend(_proposal_inputs(view, locale))
        body.append(
            {
                "type": "Input.Text",
                "id": "comment",
                "label": t("esc.comment", locale),
                "isMultiline": True,
                "maxLength": 1000,
            }
        )
        data = {"incident": incident.id}
        actions = [
            execute(t("esc.approve", locale), Verb.ESCALATION_APPROVE, locale, **data),
            execute(t("esc.reject", locale), Verb.ESCALATION_REJECT, locale, **data),
        ]
    else:
        if view.decided is None:
            body.extend(_proposal_list(view, locale))
        body.append(_status(view, locale))
    today = view.today or dt.datetime.now(JST).date()
    rejected = view.decided is not None and view.decided.decision is Decision.REJECT
    if not rejected:  # a rejected case has no tasks left to do
        body.extend(task_checklist(view.tasks, incident.id, locale, today=today))
    if mode is ViewMode.DECIDE or offer_decide:
        # Each approved mail is sent only from its preview (the verbs check who clicks).
        for kind in view.reviewable:
            name = t(f"action.kind.{kind}", locale)
            actions.append(
                execute(
                    t("esc.review", locale, mail=name),
                    Verb.MAIL_REVIEW,
                    locale,
                    incident=incident.id,
                    action=kind.value,
                )
            )
        if view.can_prepare_final:
            actions.append(
                execute(
                    t("esc.prepare_final", locale),
                    Verb.MAIL_PREPARE,
                    locale,
                    incident=incident.id,
                    action=ActionKind.FINAL_WARNING.value,
                )
            )
    if offer_decide and view.decided is None and mode is ViewMode.READ:
        actions.append(
            execute(_DECIDE[locale], Verb.ESCALATION_REFRESH, locale, incident=incident.id)
        )
    if can_export:
        actions.append(
            execute(
                t("export.button", locale), Verb.ESCALATION_EXPORT, locale, incident=incident.id
            )
        )
        # A manager resumes a failed or stopped job where it left off (same job, same key).
        actions.extend(
            execute(
                t("esc.resume", locale, name=t(f"action.kind.{job.kind}", locale)),
                Verb.ESCALATION_RESUME,
                locale,
                incident=incident.id,
                job=job.job_id,
            )
            for job in view.jobs
            if job.resumable
        )
    result = card(body, actions or None)
    # Managers keep getting their view after the decision too (the export button).
    if refresh_user_ids:
        result["refresh"] = {
            "action": execute("refresh", Verb.ESCALATION_REFRESH, locale, incident=incident.id),
            "userIds": list(refresh_user_ids[:MAX_REFRESH_USERS]),
        }
    return result


def _header(view: CaseView, library: PlaybookLibrary, locale: Locale) -> Element:
    incident = view.incident
    playbook = library.get(incident.type.value)
    c = incident.counterparts
    facts = [
        {"title": t("report.type", locale), "value": playbook.title(locale) if playbook else ""},
        {"title": t("esc.reporter", locale), "value": plain(incident.reporter.display_name) or "-"},
        {
            "title": t("esc.reported_at", locale),
            "value": incident.created_at.astimezone(JST).strftime("%Y-%m-%d %H:%M"),
        },
        {"title": t("incident.state", locale), "value": t(f"state.{incident.state}", locale)},
    ]
    counterpart = ", ".join((*c.emails, *c.sns_accounts, *c.urls)) or ", ".join(c.domains)
    if counterpart:
        facts.append({"title": t("esc.counterpart", locale), "value": plain(counterpart)})
    items: list[Element] = [heading(t("esc.title", locale, id=incident.id), size="Large")]
    if threat_indicated(incident):
        items.append(
            container(
                [text("🚨 " + t("incident.threat", locale), weight="Bolder", color="Attention")],
                style="attention",
            )
        )
    summary = incident.summary[:800] + ("…" if len(incident.summary) > 800 else "")
    items += [{"type": "FactSet", "facts": facts}, text(plain(summary))]
    items += _figures(view, locale)
    return container(items)


def _figures(view: CaseView, locale: Locale) -> list[Element]:
    """What Mamoru counted, so the manager sees why each action is (not) proposed."""
    facts = view.facts
    lines: list[str] = []
    c = view.incident.counterparts
    if c.emails or c.domains:
        mail = facts.mail
        if mail is None:
            lines.append(t("facts.mail.unknown", locale))
        elif mail.total == 0:
            lines.append(t("facts.mail.none", locale))
        else:
            lines.append(
                t("facts.mail", locale, total=mail.total, days=mail.days, peak=mail.peak_per_day)
            )
    if facts.sns_posts:
        lines.append(t("facts.sns", locale, posts=facts.sns_posts, platforms=facts.sns_platforms))
    if not lines:
        return []
    return [
        text(t("facts.title", locale), weight="Bolder", size="Small"),
        *(text("・" + line, size="Small", spacing="None") for line in lines),
    ]


def reason_text(proposal: Proposal, facts: CaseFacts, locale: Locale) -> str:
    """The one line saying why ``proposal`` is (or is not yet) proposed for this case."""
    mail = facts.mail
    sent = facts.refusal_sent_at
    values = {
        "total": mail.total if mail else 0,
        "peak": mail.peak_per_day if mail else 0,
        "posts": facts.sns_posts,
        "date": sent.astimezone(JST).strftime("%Y-%m-%d") if sent else "-",
        "after": facts.mail_after_refusal,
        "reason": plain(facts.skip_reason[:200]),
    }
    return t(f"reason.{proposal.reason.value}", locale, **values)


def _why(proposal: Proposal, view: CaseView, locale: Locale) -> Element:
    line = reason_text(proposal, view.facts, locale)
    return text(line, size="Small", subtle=True, spacing="None")


def _explained(proposal: Proposal, view: CaseView, locale: Locale) -> list[Element]:
    """Why the action is proposed here, and for mail protection exactly whose mail it takes."""
    kind = proposal.kind
    items = [_why(proposal, view, locale)]
    if kind is ActionKind.MAIL_PROTECTION:
        c = view.incident.counterparts
        target = protection_target(c.emails, c.domains)
        if target is not None and target.address:
            scope = t("action.rule.address", locale, address=plain(target.address))
        elif target is not None:
            domain = target.domain or ""
            # Name the look-alikes a reader would worry about (example.co → example.com).
            longer = f"{domain}m, {domain}.jp" if domain.endswith(".co") else f"{domain}.jp"
            scope = t("action.rule.domain", locale, domain=plain(domain), longer=plain(longer))
        else:
            scope = t("action.rule.none", locale)
        items.append(text(scope, size="Small", spacing="None"))
    return items


def _proposal_inputs(view: CaseView, locale: Locale) -> list[Element]:
    items: list[Element] = []
    for proposal in view.proposals:
        kind = proposal.kind
        items.append(
            {
                "type": "Input.Toggle",
                "id": f"act.{kind}",
                "title": t(f"action.kind.{kind}", locale),
                # Only evidence preservation starts selected; nothing that leaves the building.
                "value": "true" if proposal.preselected else "false",
                "valueOn": "true",
                "valueOff": "false",
            }
        )
        items.extend(_explained(proposal, view, locale))
        if kind is ActionKind.FINAL_WARNING and proposal.reason is ProposalReason.REFUSAL_FIRST:
            items.append(
                {
                    "type": "Input.Text",
                    "id": "skip_reason",
                    "label": t("esc.skip_reason", locale),
                    "isMultiline": True,
                    "maxLength": 1000,
                }
            )
        if mode_of(kind) is ActionMode.ORGANISATION_MAIL:
            items.append(
                {
                    "type": "Input.Text",
                    "id": f"draft.{kind}",
                    "label": t("esc.draft", locale),
                    "isMultiline": True,
                    "maxLength": 4000,
                    "value": view.drafts.get(kind, ""),
                }
            )
    return items


def _proposal_list(view: CaseView, locale: Locale) -> list[Element]:
    items: list[Element] = []
    for proposal in view.proposals:
        mark = "☑" if proposal.preselected else "☐"
        items.append(text(f"{mark} {t(f'action.kind.{proposal.kind}', locale)}"))
        items.extend(_explained(proposal, view, locale))
    return items


def _status(view: CaseView, locale: Locale) -> Element:
    decided = view.decided
    if decided is None:
        return text(t("esc.waiting", locale), weight="Bolder", separator=True)
    key = "esc.approved_by" if decided.decision is Decision.APPROVE else "esc.rejected_by"
    at = decided.at.astimezone(JST).strftime("%Y-%m-%d %H:%M")
    items: list[Element] = [text(t(key, locale, name=plain(decided.by), at=at), weight="Bolder")]
    if decided.decision is Decision.REJECT:
        reason = plain(decided.comment[:500]) or "-"
        items.append(text(t("esc.rejected_reason", locale, comment=reason)))
        return container(items, separator=True)
    if decided.comment:
        items.append(text(t("esc.comment_line", locale, comment=plain(decided.comment[:500]))))
    if view.jobs or view.mails:
        items.append(heading(t("esc.progress", locale), size="Default"))
        items.extend(text(_job_line(job, locale)) for job in view.jobs)
        items.extend(text(plain(describe(line, locale))) for line in view.mails)
    return container(items, separator=True)


def _job_line(job: JobLine, locale: Locale) -> str:
    state = job_status_label(job.state, job.error, locale)
    if job.state == "queued" and job.wait_reason:
        at = job.next_try.astimezone(JST).strftime("%H:%M") if job.next_try else "?"
        try:
            reason = t(f"job.wait.{job.wait_reason}", locale)
        except KeyError:  # a reason this version has no words for: show its code
            reason = job.wait_reason
        state = t("esc.job.waiting", locale, reason=reason, at=at)
    name = t(f"action.kind.{job.kind}", locale)
    if job.kind is ActionKind.MAIL_PROTECTION and job.total:
        return f"{name} — {t('esc.archived', locale, done=job.done, total=job.total)} — {state}"
    return f"{name} — {state}"
