"""The organisation's mails on a case: filled drafts, the preview, and sending exactly once.

Approving a mail (cut-off notice, the section's refusal, the final warning) sends
nothing: it creates a draft filled from the case (the counterpart's name when the
mails show one, the department, the signatory, the date of the earlier mail when
Mamoru sent it). A manager then sees the preview (From, To, Subject, Body exactly as
they go out) and confirms with 「この内容で送信」. The confirmation carries the
preview's fingerprint, so an edited draft needs a new preview; the first confirmation
is recorded in the job queue's once-only marks before anything is queued, so a double
click, a retried invoke or two managers at once queue one send job, and that job sends
at most once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.domain.decisions import KeyedRecord, Numbered
from bot.domain.escalation import ActionKind, CaseFacts, final_warning_proposal
from bot.domain.incidents import JST, Incident, Person
from bot.domain.jobs import Job, JobSpec, JobState
from bot.domain.outgoing import (
    DraftState,
    Finding,
    OutgoingMail,
    check,
    normalise_body,
    reference,
)
from bot.domain.ports import Clock, JobQueue, Registry

log = logging.getLogger(__name__)

DRAFT = "org-mail-draft"  # registry kind; key "<incident>:<action>"
REFERENCE_COUNTER = "org-mail-ref"  # counter kind; key "<department>:<yyyymmdd>"
SKIP_REASON = "final-warning-skip"  # registry kind; key incident id
ORG_MAIL_JOB = "org-mail"
MAIL_KINDS = (ActionKind.CUTOFF_DECLARATION, ActionKind.REFUSAL_REPLY, ActionKind.FINAL_WARNING)

SUBJECTS: dict[ActionKind, str] = {
    ActionKind.CUTOFF_DECLARATION: "お問い合わせへのご回答について",
    ActionKind.REFUSAL_REPLY: "いただいたご連絡について",
    ActionKind.FINAL_WARNING: "ご連絡の中止のお願い",
}

# The texts are the organisation's, in its own name; {gaps} are filled from the case.
BODIES: dict[ActionKind, str] = {
    ActionKind.CUTOFF_DECLARATION: (
        "{salutation}\n"
        "{department}です。\n\n"
        "お問い合わせの件につきましては、{earlier}当課の判断とその理由をお示ししております。\n"
        "当課としてお伝えすべきことはすべてお伝えしており、これ以上の説明はございません。\n"
        "つきましては、本件と同じ趣旨のメールを今後いただきましても、"
        "個別のお返事はいたしませんので、ご了承ください。\n"
        "なお、新たなご申請やご相談は、所定の手続きにより承ります。\n\n"
        "{signature}"
    ),
    ActionKind.REFUSAL_REPLY: (
        "{salutation}\n"
        "{department}です。\n\n"
        "いただいたメールにつきまして、職員個人の意見をお伝えすることはいたしておりません。"
        "また、業務と関係のないお誘いやご質問には応じかねます。\n"
        "業務に関するご意見・ご要望は、当課で承ります。\n"
        "今後、同様の内容のメールには返信いたしませんので、ご了承ください。\n\n"
        "{signature}"
    ),
    ActionKind.FINAL_WARNING: (
        "{salutation}\n"
        "{department}です。\n\n"
        "当課職員への業務と関係のないご連絡やお誘いにつきましては、{earlier}お断りしております。"
        "それにもかかわらず同様のご連絡が続いており、職員の就業環境を害する"
        "カスタマー・ハラスメントに当たり得るものと当課は考えております。\n"
        "今後も続く場合には、警察への相談を含め、法的な対応を検討いたします。"
        "業務に関するご用件は、当課の窓口で承ります。\n\n"
        "{signature}"
    ),
}


@dataclass(frozen=True, slots=True)
class MailSettings:
    """How the organisation signs and numbers its mails (from Settings)."""

    department_mailbox: str = ""  # From
    department_name: str = ""  # e.g. 「〇〇区 市民相談課」; empty: a gap that blocks sending
    signatory: str = ""  # e.g. 「市民相談課長 高橋 一郎」; empty: the approving manager
    reference_format: str = "{department}-{yyyy}{mm}{dd}-{n}"
    reference_department: str = ""  # {department} in references; empty: department_name


@dataclass(frozen=True, slots=True)
class Draft:
    """One organisation mail of a case, as stored between approval and sending."""

    incident_id: str
    kind: ActionKind
    mail: OutgoingMail
    state: DraftState
    approved_by: str = ""  # display name of the manager who approved it
    sent_by: str = ""
    sent_at: dt.datetime | None = None

    @property
    def findings(self) -> tuple[Finding, ...]:
        """What blocks sending it as it is."""
        return check(self.mail)


class SendRefused(Exception):
    """A confirmation that sends nothing; ``reason`` says why (for the card)."""

    def __init__(self, reason: str, draft: Draft | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.draft = draft


STALE = "stale"  # the preview confirmed is not the current text
BLOCKED = "blocked"  # the text has findings (placeholders...)
ALREADY_SENT = "already-sent"
NO_DRAFT = "no-draft"
NOT_YET = "not-yet"  # final warning before the refusal + a further mail


class OrgMails:
    """Drafts, previews and the one send of each organisation mail of a case."""

    def __init__(
        self, *, registry: Registry, jobs: JobQueue, clock: Clock, settings: MailSettings
    ) -> None:
        self._registry = registry
        self._jobs = jobs
        self._clock = clock
        self._settings = settings

    # --- drafts

    def compose(
        self,
        kind: ActionKind,
        incident: Incident,
        facts: CaseFacts,
        approver: Person | None,
        *,
        ref: str = "",
    ) -> OutgoingMail:
        """The mail ``kind`` filled from the case (what the decide card shows to edit)."""
        s = self._settings
        name = facts.mail.sender_name if facts.mail else ""
        earlier = ""
        if kind is ActionKind.FINAL_WARNING and facts.refusal_sent_at:
            earlier = f"{_date_ja(facts.refusal_sent_at)}付のメールで"
        elif kind is ActionKind.FINAL_WARNING:
            earlier = "すでに"
        elif kind is ActionKind.CUTOFF_DECLARATION:
            earlier = "これまでのご回答で"
        department = s.department_name or "〇〇課"
        signatory = s.signatory or "\n".join(
            p
            for p in (s.department_name or "〇〇課", approver.display_name if approver else "")
            if p
        )
        body = BODIES[kind].format(
            salutation=f"{name} 様" if name else "ご連絡をいただいている方へ",
            department=department,
            earlier=earlier,
            signature=signatory,
        )
        subject = SUBJECTS[kind] + (f"（{ref}）" if ref else "")
        to = incident.counterparts.emails[0] if incident.counterparts.emails else ""
        return OutgoingMail(sender=s.department_mailbox, to=to, subject=subject, body=body)

    async def create(
        self,
        incident: Incident,
        kind: ActionKind,
        text: str,
        approver: Person,
        facts: CaseFacts,
        *,
        fresh: bool = False,
    ) -> Draft:
        """Store the approved draft of ``kind`` (``text``: the body as approved) once.

        ``fresh``: the case was decided just now, by the one decision it can have, so it
        has no draft yet: not looked up (the approval's answer waits for this).
        """
        existing = None if fresh else await self.get(incident.id, kind)
        if existing is not None:
            return existing
        composed = self.compose(
            kind, incident, facts, approver, ref=await self._next_reference(incident)
        )
        mail = replace(composed, body=normalise_body(text) if text.strip() else composed.body)
        draft = Draft(
            incident.id,
            kind,
            mail,
            DraftState.AWAITING_CONFIRMATION,
            approved_by=approver.display_name,
        )
        await self._save(draft)
        return draft

    def plan_drafts(
        self,
        incident: Incident,
        texts: dict[ActionKind, str],
        approver: Person,
        facts: CaseFacts,
    ) -> Numbered | None:
        """The drafts a decision approves, for its own transaction (``DecisionPlan``).

        ``texts``: each approved mail's body as approved (empty: the composed one). Their
        reference numbers are drawn by the decision's transaction, so a number is never
        used by an approval that was not written, and the draft exists exactly when the
        decision does. The case was decided by this decision alone: it has no draft yet.
        """
        kinds = [kind for kind in MAIL_KINDS if kind in texts]
        if not kinds:
            return None
        department, key, today = self._reference_key(incident)

        def build(numbers: tuple[int, ...]) -> tuple[KeyedRecord, ...]:
            records = []
            for kind, n in zip(kinds, numbers, strict=True):
                ref = self._reference(department, today, n)
                composed = self.compose(kind, incident, facts, approver, ref=ref)
                text = texts[kind]
                mail = replace(
                    composed, body=normalise_body(text) if text.strip() else composed.body
                )
                draft = Draft(
                    incident.id,
                    kind,
                    mail,
                    DraftState.AWAITING_CONFIRMATION,
                    approved_by=approver.display_name,
                )
                records.append(
                    KeyedRecord(DRAFT, _draft_key(incident.id, kind), self._value(draft))
                )
            return tuple(records)

        return Numbered(REFERENCE_COUNTER, key, len(kinds), build)

    def skip_reason_record(self, incident_id: str, reason: str, by: Person) -> KeyedRecord:
        """A manager's reason to send the final warning without the refusal step first, as
        the decision that approves the warning writes it."""
        return KeyedRecord(SKIP_REASON, incident_id, _skip_value(reason, by))

    @staticmethod
    def drafts_written(records: Sequence[KeyedRecord]) -> tuple[Draft, ...]:
        """The drafts among what a decision wrote, in the order of ``MAIL_KINDS``."""
        found = {}
        for record in records:
            if record.kind != DRAFT:
                continue
            incident_id, _, kind = record.key.rpartition(":")
            found[ActionKind(kind)] = _draft_of(incident_id, ActionKind(kind), record.value)
        return tuple(found[kind] for kind in MAIL_KINDS if kind in found)

    async def edit(
        self, incident_id: str, kind: ActionKind, *, to: str, subject: str, body: str
    ) -> Draft:
        """Replace the draft's To, Subject and Body (only while not yet confirmed)."""
        draft = await self._require(incident_id, kind)
        if draft.state is not DraftState.AWAITING_CONFIRMATION:
            raise SendRefused(ALREADY_SENT, draft)
        mail = replace(
            draft.mail,
            to=to.strip()[:320],
            subject=" ".join(subject.split())[:1000],
            # Kept in full even when far too long: the card says so and nothing typed is lost.
            body=normalise_body(body),
        )
        draft = replace(draft, mail=mail)
        await self._save(draft)
        return draft

    async def get(self, incident_id: str, kind: ActionKind) -> Draft | None:
        """The draft with its state as the job queue knows it, or None."""
        return {d.kind: d for d in await self.drafts(incident_id)}.get(kind)

    async def drafts(
        self, incident_id: str, *, jobs: Sequence[Job] | None = None
    ) -> tuple[Draft, ...]:
        """Every organisation mail of the case, in the order of ``MAIL_KINDS``, each with its
        state as the job queue knows it (``jobs``: the case's jobs, if in hand).

        One read of the drafts and at most one of the jobs, whatever the number of mails.
        """
        keys = [_draft_key(incident_id, kind) for kind in MAIL_KINDS]
        records = await self._registry.get_many(DRAFT, keys)
        if not records:
            return ()
        if jobs is None:
            jobs = await self._jobs.jobs_for_incident(incident_id)
        found = []
        for kind, key in zip(MAIL_KINDS, keys, strict=True):
            record = records.get(key)
            if record is None:
                continue
            draft = _draft_of(incident_id, kind, record)
            job = _job_for(jobs, kind)
            if job is not None:
                state = {
                    JobState.SUCCEEDED: DraftState.SENT,
                    JobState.FAILED: DraftState.FAILED,
                    JobState.CANCELLED: DraftState.FAILED,
                }.get(job.state, DraftState.SENDING)
                draft = replace(draft, state=state, sent_at=job.finished_at or draft.sent_at)
            found.append(draft)
        return tuple(found)

    # --- sending

    async def confirm(self, incident_id: str, kind: ActionKind, digest: str, by: Person) -> Draft:
        """Queue the one send of exactly the previewed text; refuses stale or blocked texts."""
        draft = await self._require(incident_id, kind)
        if draft.state is not DraftState.AWAITING_CONFIRMATION:
            raise SendRefused(ALREADY_SENT, draft)
        if digest != draft.mail.digest:
            raise SendRefused(STALE, draft)
        if draft.findings:
            raise SendRefused(BLOCKED, draft)
        # The first confirmation ever wins, recorded before the job exists.
        if not await self._jobs.mark_once(f"org-mail-confirm:{incident_id}:{kind.value}"):
            raise SendRefused(ALREADY_SENT, await self.get(incident_id, kind))
        mail = draft.mail
        await self._jobs.enqueue(
            JobSpec(
                kind=ORG_MAIL_JOB,
                incident_id=incident_id,
                params={
                    "action": kind.value,
                    "from": mail.sender,
                    "to": mail.to,
                    "subject": mail.subject,
                    "body": mail.body,
                    "digest": mail.digest,
                    "confirmed_by": by.object_id,
                    "confirmed_by_name": by.display_name,
                },
                idempotency_key=f"{incident_id}:{kind.value}",
            )
        )
        draft = replace(draft, state=DraftState.SENDING, sent_by=by.display_name)
        await self._save(draft)
        log.info("incident %s: %s confirmed for sending", incident_id, kind.value)
        return draft

    # --- the final warning, in order

    async def record_skip_reason(self, incident_id: str, reason: str, by: Person) -> None:
        """A manager's reason to send the final warning without the refusal step first."""
        await self._registry.put(SKIP_REASON, incident_id, _skip_value(reason, by))

    async def skip_reason(self, incident_id: str) -> str:
        """The recorded reason to skip the refusal step, or ""."""
        record = await self._registry.get(SKIP_REASON, incident_id)
        return str(record.get("reason", "")) if record else ""

    async def refusal_sent_at(
        self, incident_id: str, *, jobs: Sequence[Job] | None = None
    ) -> dt.datetime | None:
        """When the section's refusal went out (None: not sent); ``jobs``: the case's jobs,
        if in hand."""
        if jobs is None:
            jobs = await self._jobs.jobs_for_incident(incident_id)
        job = _job_for(jobs, ActionKind.REFUSAL_REPLY)
        if job is None or job.state is not JobState.SUCCEEDED:
            return None
        return job.finished_at or job.updated_at

    def final_warning_allowed(self, facts: CaseFacts) -> bool:
        """Whether the final warning may be drafted now (see ``final_warning_proposal``)."""
        return final_warning_proposal(facts).available

    # --- helpers

    async def _require(self, incident_id: str, kind: ActionKind) -> Draft:
        draft = await self.get(incident_id, kind)
        if draft is None:
            raise SendRefused(NO_DRAFT)
        return draft

    async def _save(self, draft: Draft) -> None:
        await self._registry.put(
            DRAFT, _draft_key(draft.incident_id, draft.kind), self._value(draft)
        )

    def _value(self, draft: Draft) -> dict[str, Any]:
        mail = draft.mail
        return {
            "from": mail.sender,
            "to": mail.to,
            "subject": mail.subject,
            "body": mail.body,
            "state": draft.state.value,
            "approved_by": draft.approved_by,
            "sent_by": draft.sent_by,
            "at": self._clock.now().isoformat(),
        }

    def _reference_key(self, incident: Incident) -> tuple[str, str, dt.datetime]:
        """The department named in references, the counter's key (one per day), today."""
        s = self._settings
        today = self._clock.now().astimezone(JST)
        department = s.reference_department or s.department_name or incident.department
        return department, f"{department}:{today:%Y%m%d}", today

    def _reference(self, department: str, today: dt.datetime, n: int) -> str:
        return reference(
            self._settings.reference_format,
            department=department,
            year=today.year,
            month=today.month,
            day=today.day,
            n=n,
        )

    async def _next_reference(self, incident: Incident) -> str:
        department, key, today = self._reference_key(incident)
        return self._reference(
            department, today, await self._registry.increment(REFERENCE_COUNTER, key)
        )


def _draft_of(incident_id: str, kind: ActionKind, record: dict[str, Any]) -> Draft:
    return Draft(
        incident_id,
        kind,
        OutgoingMail(
            sender=str(record.get("from", "")),
            to=str(record.get("to", "")),
            subject=str(record.get("subject", "")),
            body=str(record.get("body", "")),
        ),
        DraftState(record.get("state", DraftState.AWAITING_CONFIRMATION.value)),
        approved_by=str(record.get("approved_by", "")),
        sent_by=str(record.get("sent_by", "")),
    )


def _job_for(jobs: Sequence[Job], kind: ActionKind) -> Job | None:
    for job in jobs:
        if job.kind == ORG_MAIL_JOB and job.params.get("action") == kind.value:
            return job
    return None


def _draft_key(incident_id: str, kind: ActionKind) -> str:
    return f"{incident_id}:{kind.value}"


def _skip_value(reason: str, by: Person) -> dict[str, Any]:
    return {"reason": reason.strip()[:1000], "by": by.object_id, "by_name": by.display_name}


def _date_ja(at: dt.datetime) -> str:
    local = at.astimezone(JST)
    return f"{local.year}年{local.month}月{local.day}日"
