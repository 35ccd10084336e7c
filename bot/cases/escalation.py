"""Escalation: a reported case goes to the managers' channel, a manager decides, jobs run.

The application service between Teams (``bot/teams/escalation.py``), the domain
rules (``bot.domain.escalation``), the store, the job queue and the messenger.
Exactly one decision per case: the state machine's move out of ``escalated``, the
decision and the approved jobs are written in one transaction on the locked case
(``DecisionLog.decide``), so of two concurrent approvals one wins and the other is told
the case is already decided, and a crash never leaves an approved case without its jobs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from bot.background import DRAIN_SECONDS, BackgroundWork, Foreground
from bot.cases.case_views import JOB_KINDS, CaseViewsMixin
from bot.cases.contacts import Contact, ContactsMixin
from bot.cases.drafts import MAIL_KINDS, OrgMails
from bot.cases.facts import MailFacts
from bot.cases.staff_notices import StaffNotices
from bot.cases.thread_cards import (
    ESCALATE_JOB,
    MAMORU,
    REFRESH_EVERY_SECONDS,
    THREAD,
    ThreadCardsMixin,
)
from bot.domain.access import Access, CaseAction, Viewer, access
from bot.domain.decisions import DecisionPlan, DecisionRecord, KeyedRecord, Numbered
from bot.domain.departments import ManagersChannel
from bot.domain.errors import InvalidTransition
from bot.domain.escalation import (
    ALREADY_DECIDED,
    ActionKind,
    ApprovedAction,
    Decision,
    DecisionRefused,
    check_decision,
    mode_of,
    propose,
)
from bot.domain.incidents import Incident, IncidentState, Person
from bot.domain.jobs import Job, JobSpec, JobState
from bot.domain.linking import FREE_MAIL_DOMAINS, LinkedCases
from bot.domain.locale import Locale
from bot.domain.playbooks import PlaybookLibrary
from bot.domain.ports import (
    Clock,
    DecisionLog,
    DepartmentChannels,
    Directory,
    JobQueue,
    Registry,
    Store,
)
from bot.domain.tasks import CaseTask
from bot.teams.messenger import Messenger
from cards.escalation import CaseView
from cards.notices import notice_element

log = logging.getLogger(__name__)

# key: incident id -> {department, locale, waiting}: reported before its department's
# managers' channel existed; escalated by the department's `setup`.
UNSENT = "unsent"

REFUSAL_KEYS = {
    "not-a-manager": "esc.not_manager",
    "own-case": "esc.own_case",
    "already-decided": "esc.already",
    "nothing-selected": "esc.nothing_selected",
    "reason-required": "esc.reason_required",
    "refusal-first": "esc.refusal_first",
    "both-warnings": "esc.both_warnings",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a click on the escalation card produced: the card for the clicker."""

    card: dict[str, Any]
    refused: str | None = None  # the DecisionRefused reason, if any


class Escalations(CaseViewsMixin, ThreadCardsMixin, ContactsMixin):
    """Opens escalation threads and records managers' decisions.

    The card's content (``bot.cases.case_views``), the thread's updates
    (``bot.cases.thread_cards``) and how people are reached (``bot.cases.contacts``)
    are its parts, each in its own module.
    """

    def __init__(
        self,
        *,
        store: Store,
        decisions: DecisionLog,
        registry: Registry,
        channels: DepartmentChannels,
        directory: Directory,
        jobs: JobQueue,
        messenger: Messenger,
        library: PlaybookLibrary,
        clock: Clock,
        admin_contact: str = "",
        foreground: Foreground | None = None,
        reads: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        self._store = store
        # Lets the reads that render one card share a connection (Engines.reads).
        self._reads = reads or contextlib.nullcontext
        self._channels = channels
        self._decisions = decisions
        self._admin_contact = admin_contact
        self._registry = registry
        self._directory = directory
        self._jobs = jobs
        self._messenger = messenger
        self._library = library
        self._clock = clock
        self._users: dict[str, dict[str, Any]] = {}  # last record stored, per object id
        # What never changes once written, kept per process: each case's thread (where its
        # card is) and its decision (exactly one per case).
        self._threads: dict[str, dict[str, Any]] = {}
        self._decided: dict[str, DecisionRecord] = {}
        # Per department: when computed, the Teams ids of its managers.
        self._manager_ids_cache: dict[str, tuple[dt.datetime, tuple[str, ...]]] = {}
        # First contacts waiting to be registered (the latest turn's view of each person),
        # those being written now, and whether a registration batch is running.
        self._to_remember: dict[str, Contact] = {}
        self._remembering: set[str] = set()
        self._registering = False
        # Card updates and notices start after the answers being sent (bot.background).
        self._background = BackgroundWork("background update failed", foreground)
        # What the staff member and others are told in their personal chat.
        self.notices = StaffNotices(
            store=store,
            registry=registry,
            jobs=jobs,
            messenger=messenger,
            view=self._staff_view,
        )
        # Coalescing of job events: the last (state, wait) seen per job, pending refreshes.
        self._job_states: dict[str, tuple[JobState, str | None]] = {}
        self._refresh_pending: set[str] = set()
        self._last_refresh: dict[str, float] = {}
        self.refresh_every = REFRESH_EVERY_SECONDS
        # Features hook in here (SNS cases: the safety/care checklist), wired in bot/app.py.
        self.task_source: Callable[[str], Awaitable[tuple[CaseTask, ...]]] | None = None
        # Other cases with the same counterpart (issue 15); None viewer: the shared card.
        self.link_source: Callable[[Incident, Viewer | None], Awaitable[LinkedCases]] | None = None
        # The tasks for people an approval creates, and their jobs (bot/cases/tasks.py).
        self.approval_tasks: (
            Callable[
                [Incident, Person, Sequence[ApprovedAction]],
                tuple[tuple[CaseTask, ...], tuple[JobSpec, ...]],
            ]
            | None
        ) = None
        self.mails: OrgMails | None = None  # the organisation's mails (drafts, previews)
        self.mail_facts: MailFacts | None = None  # counts the counterpart's mails
        self.sns_spread: Callable[[Incident], Awaitable[tuple[int, int]]] | None = None
        # Domains anyone can get an address at, with the configured ones (never blocked).
        self.free_mail: frozenset[str] = FREE_MAIL_DOMAINS

    # --- who and where

    async def register_channel(
        self, department: str, *, channel_id: str, service_url: str, tenant_id: str, by: Person
    ) -> int:
        """Make ``channel_id`` the managers' channel of ``department``.

        Cases of the department reported before (no channel to go to) are escalated now,
        each by a durable job; returns how many.
        """
        await self._channels.set_channel(
            ManagersChannel(
                department=department,
                channel_id=channel_id,
                service_url=service_url,
                tenant_id=tenant_id,
                registered_by=by.object_id,
                registered_at=self._clock.now(),
            )
        )
        log.info("managers' channel registered for a department")
        waiting = 0
        for incident_id, unsent in (await self._registry.all(UNSENT)).items():
            if not unsent.get("waiting") or unsent.get("department") != department:
                continue
            await self._jobs.enqueue(
                JobSpec(
                    kind=ESCALATE_JOB,
                    incident_id=incident_id,
                    params={"locale": unsent.get("locale", Locale.JA.value)},
                    # One per case and channel: a repeated setup queues nothing more.
                    idempotency_key=f"{incident_id}:escalate:{channel_id}",
                )
            )
            waiting += 1
        if waiting:
            log.info("%d unsent cases queued for the new managers' channel", waiting)
        return waiting

    async def is_manager(self, person: Person) -> bool:
        """Whether ``person`` manages a department now (asked every time: roles change)."""
        return await self._directory.is_manager(person.object_id)

    async def departments_of_channel(self, channel_id: str) -> frozenset[str]:
        """The departments whose managers' channel ``channel_id`` is (set up there)."""
        return await self._channels.departments_of_channel(channel_id)

    def department_name(self, department_id: str) -> str:
        """The department's display name (for messages)."""
        return self._directory.department_name(department_id)

    # --- escalate

    async def load(self, incident_id: str) -> Incident:
        """The incident (no access check: the bot acts for the organisation here)."""
        return await self._store.load_incident(incident_id)

    async def request_escalation(self, incident_id: str, locale: Locale) -> None:
        """Queue the case's escalation as a durable job (once per case, whoever asks)."""
        await self._jobs.enqueue(
            JobSpec(
                kind=ESCALATE_JOB,
                incident_id=incident_id,
                params={"locale": locale.value},
                idempotency_key=f"{incident_id}:escalate",
            )
        )

    async def run_escalation_job(self, job: Job, _context: object) -> None:
        """Job handler: open the thread and tell the staff member where the case went."""
        incident = await self.load(job.incident_id)
        locale = Locale.from_tag(job.params.get("locale"))
        if await self.escalate(incident, locale):
            await self.notices.tell_staff_once(incident, "esc.sent_to_managers")
            return
        # Nobody would see it: keep it for the department's `setup`, and say so and whom
        # to ask (silence here once left cases unseen for good).
        await self._registry.put(
            UNSENT,
            incident.id,
            {"department": incident.department, "locale": locale.value, "waiting": True},
        )
        if self._admin_contact:
            await self.notices.tell_staff_once(
                incident, "esc.not_set_up", contact=self._admin_contact
            )
        else:  # no contact configured: "your IT administrator", in the person's language
            await self.notices.tell_staff_once(incident, "esc.not_set_up.no_contact")

    async def escalate(self, incident: Incident, locale: Locale) -> bool:
        """Open the case's thread in its department's channel; False if none is registered."""
        if await self._registry.get(THREAD, incident.id):
            return True  # already escalated: a retried report must not open a second thread
        channel = await self._channels.channel_of(incident.department)
        if channel is None:
            log.warning("incident %s: no managers' channel registered", incident.id)
            return False
        view = await self.view(incident)
        card = await self.thread_card(incident, view, locale)
        posted = await self._messenger.create_thread(
            channel_id=channel.channel_id,
            service_url=channel.service_url,
            tenant_id=channel.tenant_id,
            card=card,
        )
        await self._registry.put(
            THREAD,
            incident.id,
            {
                "conversation_id": posted.conversation_id,
                "activity_id": posted.activity_id,
                "service_url": posted.service_url,
                "locale": locale.value,
                "at": self._clock.now().isoformat(),
            },
        )
        if incident.state is not IncidentState.ESCALATED:
            await self._store.transition(
                incident.id, IncidentState.ESCALATED, actor=incident.reporter
            )
        unsent = await self._registry.get(UNSENT, incident.id)
        if unsent and unsent.get("waiting"):
            await self._registry.put(UNSENT, incident.id, {**unsent, "waiting": False})
        log.info("incident %s escalated", incident.id)
        return True

    # --- decide

    async def decide(
        self,
        incident_id: str,
        actor: Person,
        decision: Decision,
        inputs: dict[str, Any],
        locale: Locale,
        *,
        known: Incident | None = None,
        roles: Viewer | None = None,
    ) -> Outcome:
        """Record ``actor``'s decision once, with its approved jobs, and update everyone.

        ``known``, ``roles``: the case and the clicker's roles as the caller just opened
        it (the case is re-checked under the lock).

        One transaction writes the state change, the decision, the jobs, the tasks and the
        approved mails' drafts with their reference numbers; the
        clicker's answer is rendered from what was written and what was in hand, without
        reading it back. The rest (the thread's card for everyone, linked cases, the staff
        member's notice) follows in the background.
        """
        comment = str(inputs.get("comment") or "").strip()[:1000]
        skip_reason = str(inputs.get("skip_reason") or "").strip()[:1000]
        if roles is None:
            roles = await self.viewer(actor)
        at = self._clock.now()
        # Counted before the transaction (Graph is slow); the proposals are made again
        # from them on the locked case. Undecided: the decision below refuses otherwise.
        before = known if known is not None else await self._store.load_incident(incident_id)
        facts = await self.facts(before, undecided=True)

        def plan(incident: Incident) -> DecisionPlan:
            # Runs on the case as locked in the transaction: the rules see the latest state.
            proposals = tuple(
                p.kind for p in propose(incident, facts, shared_domains=self.free_mail)
            )
            selected = tuple(
                k for k in proposals if str(inputs.get(f"act.{k}", "")).lower() == "true"
            )
            if decision is Decision.REJECT:
                selected = ()
            check_decision(
                incident,
                actor,
                # Of this case's department: managers of another department see nothing.
                is_manager=roles.manages(incident.department),
                decision=decision,
                selected=selected,
                comment=comment,
                skip_reason=skip_reason,
            )
            approved = [
                ApprovedAction(k, draft=str(inputs.get(f"draft.{k}") or "")) for k in selected
            ]
            approve = decision is Decision.APPROVE
            tasks: tuple[CaseTask, ...] = ()
            task_jobs: tuple[JobSpec, ...] = ()
            if approve and self.approval_tasks is not None:
                tasks, task_jobs = self.approval_tasks(incident, actor, approved)
            records: tuple[KeyedRecord, ...] = ()
            drafts: Numbered | None = None
            if approve and self.mails is not None:
                # The approved mails' drafts (awaiting their preview: approving sends
                # nothing) and their reference numbers are written with the decision.
                texts = {a.kind: a.draft for a in approved if a.kind in MAIL_KINDS}
                drafts = self.mails.plan_drafts(incident, texts, actor, facts)
                if skip_reason and ActionKind.FINAL_WARNING in texts:
                    records = (self.mails.skip_reason_record(incident.id, skip_reason, actor),)
            return DecisionPlan(
                target=IncidentState.ACTIONS_APPROVED if approve else IncidentState.REJECTED,
                note=_note(decision, selected, comment),
                record=DecisionRecord(
                    incident_id=incident.id,
                    decision=decision,
                    by=actor,
                    at=at,
                    comment=comment,
                    actions=tuple(a.kind for a in approved),
                ),
                jobs=(*_job_specs(incident.id, approved), *task_jobs) if approve else (),
                tasks=tasks,
                records=records,
                numbered=drafts,
            )

        try:
            try:
                decided = await self._decisions.decide(incident_id, plan, actor=actor, known=known)
            except InvalidTransition:
                raise DecisionRefused(incident_id, ALREADY_DECIDED) from None
        except DecisionRefused as refused:
            log.info("decision on %s refused: %s", incident_id, refused.reason)
            card = await self.card_for(incident_id, actor, locale, roles=roles)
            card["body"].insert(1, notice_element(REFUSAL_KEYS[refused.reason], locale))
            return Outcome(card, refused.reason)

        incident = decided.incident
        self._keep_decision(decided.record)
        log.info("incident %s: %s by a manager", incident.id, decision.value)
        drafts = self.mails.drafts_written(decided.records) if self.mails is not None else ()
        view = await self.view(
            incident,
            decision=decided.record,
            jobs=decided.jobs,
            viewer=actor,
            facts=facts,
            drafts=drafts,
            tasks=decided.tasks,
            linked=False,  # the thread's update shows them (a read of every case)
        )
        # Everyone's copy of the card and the staff member's notice go out after the
        # clicker's answer: Teams waits for the invoke, and 50 managers may click at once.
        self._background.spawn(
            self._after_decision(view), name=f"after the decision on {incident.id}"
        )
        return Outcome(await self.card_for(incident.id, actor, locale, view=view, roles=roles))

    async def resume_job(
        self, incident_id: str, job_id: str, actor: Person, locale: Locale
    ) -> Outcome:
        """A manager resumes a failed or stopped job of the case, where it left off.

        The same job row runs again from its checkpoint: what it already did is not done
        again, and a mail already sent stays sent once (its marker holds).
        """
        incident = await self._store.load_incident(incident_id)
        refused = None
        allowed = access(await self.viewer(actor), incident, CaseAction.MANAGE)
        if allowed is Access.OWN_CASE:
            refused = "esc.own_case"
        elif allowed is not Access.ALLOWED:  # only this case's department's managers
            refused = "esc.not_manager"
        else:
            jobs = {j.id: j for j in await self._jobs.jobs_for_incident(incident_id)}
            job = jobs.get(job_id)
            if job is None or job.kind not in JOB_KINDS.values():
                refused = "esc.not_resumable"
            else:
                resumed = await self._jobs.resume(job.id)
                if resumed.state is not JobState.QUEUED:
                    refused = "esc.not_resumable"
                else:
                    log.info("incident %s: job %s resumed by a manager", incident_id, job.id)
                    self._job_states.pop(job.id, None)
                    self._schedule_refresh(incident_id)
        card = await self.card_for(incident_id, actor, locale)
        card["body"].insert(1, notice_element(refused or "esc.resumed", locale))
        return Outcome(card, refused)

    async def _after_decision(self, view: CaseView) -> None:
        # The staff member's notice from the case as the decision wrote it (not read again).
        await self.notices.notify_staff(view.incident.id, view=view)
        # Everyone's copy of the card waits for the first progress of the jobs the decision
        # started (the runner claims them within a second or two): one refresh shows both.
        self._schedule_refresh(view.incident.id, delay=self.refresh_every)

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Wait for the background updates (tests, shutdown); ``PendingWork`` if stuck."""
        await self._background.drain(timeout)


def _job_specs(incident_id: str, approved: list[ApprovedAction]) -> list[JobSpec]:
    specs = []
    for action in approved:
        job_kind = JOB_KINDS.get(action.mode)
        if job_kind is None:
            continue  # a task for people: shown on the card with its owner
        specs.append(
            JobSpec(
                kind=job_kind,
                incident_id=incident_id,
                params={"action": action.kind.value, "draft": action.draft},
                # One job per action per case: a manager resumes this job, never a new one.
                idempotency_key=f"{incident_id}:{action.kind.value}",
            )
        )
    return specs


def _note(decision: Decision, selected: tuple[ActionKind, ...], comment: str) -> str:
    actions = ", ".join(k.value for k in selected) if decision is Decision.APPROVE else ""
    parts = [f"{decision.value}: {actions}".rstrip(": ")]
    if comment:
        parts.append(comment)
    return " / ".join(parts)


__all__ = [
    "ESCALATE_JOB",
    "JOB_KINDS",
    "MAMORU",
    "REFRESH_EVERY_SECONDS",
    "THREAD",
    "Escalations",
    "Outcome",
    "mode_of",
]
