"""Escalation: a reported case goes to the managers' channel, a manager decides, jobs run.

The application service between Teams (``bot/teams/escalation.py``), the domain
rules (``bot.domain.escalation``), the store, the job queue and the messenger.
Exactly one decision per case: the state machine's move out of ``escalated``, the
decision and the approved jobs are written in one transaction on the locked case
(``DecisionLog.decide``), so of two concurrent approvals one wins and the other is told
the case is already decided, and a crash never leaves an approved case without its jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Any

from bot.background import DRAIN_SECONDS, BackgroundWork, Foreground
from bot.cases.drafts import MAIL_KINDS, Draft, OrgMails
from bot.cases.facts import MailFacts
from bot.cases.staff_notices import USER, StaffNotices
from bot.domain.access import Access, CaseAction, Viewer, access, permits
from bot.domain.decisions import DecisionPlan, DecisionRecord, KeyedRecord, Numbered
from bot.domain.departments import ManagersChannel
from bot.domain.errors import InvalidTransition
from bot.domain.escalation import (
    ALREADY_DECIDED,
    ActionKind,
    ActionMode,
    ApprovedAction,
    CaseFacts,
    Decision,
    DecisionRefused,
    check_decision,
    final_warning_proposal,
    involved,
    mode_of,
    propose,
)
from bot.domain.incidents import JST, Incident, IncidentState, Person
from bot.domain.jobs import Job, JobSpec, JobState
from bot.domain.linking import LinkedCases
from bot.domain.locale import Locale
from bot.domain.outgoing import DraftState
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
from bot.teams.messenger import Messenger, Posted
from cards.escalation import CaseView, Decided, JobLine, ViewMode, escalation_card
from cards.i18n import t
from cards.notices import notice_element, text_card
from cards.status import ActionLine, Status

log = logging.getLogger(__name__)

# Registry kinds
THREAD = "thread"  # key: incident id -> {conversation_id, activity_id, service_url, locale}
MAMORU = Person(object_id="mamoru", display_name="Mamoru")  # the actor of automatic moves
MANAGER_IDS_TTL = dt.timedelta(seconds=60)  # who gets the managers' view of a card
REFRESH_EVERY_SECONDS = 3.0  # at most one update of a thread's card per case this often
KEPT_PER_PROCESS = 10_000  # cases whose thread and decision a process keeps in memory
# key: incident id -> {department, locale, waiting}: reported before its department's
# managers' channel existed; escalated by the department's `setup`.
UNSENT = "unsent"

ESCALATE_JOB = "escalate"
# Approval queues only what sends nothing: organisation mails wait for their preview
# (bot/cases/drafts.py queues their one send job after 「この内容で送信」).
JOB_KINDS = {ActionMode.AUTOMATED: "mail-protection"}
ORG_MAIL_JOB = "org-mail"
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


class Escalations:
    """Opens escalation threads and records managers' decisions."""

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
        self._to_remember: dict[str, _Contact] = {}
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

    async def _staff_view(self, incident: Incident) -> CaseView:
        async with self._reads():
            return await self.view(incident, linked=False)

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

    def remember_user_soon(
        self, person: Person, *, teams_id: str, reference: dict[str, Any] | None, upn: str = ""
    ) -> None:
        """``remember_user`` off the reply path: the turn's answer never waits for it.

        Turns of someone already known cost nothing. First contacts (or changed
        references) are registered in batches: when fifty people write at once, one read
        and one write transaction register them all, rather than fifty of each.
        """
        known = self._users.get(person.object_id)
        if known is not None and known == _user_record(known, person, teams_id, reference, upn):
            return
        if person.object_id in self._remembering:
            return  # their first turns arrive together: one registration is enough
        self._to_remember[person.object_id] = _Contact(person, teams_id, reference, upn)
        if not self._registering:
            self._registering = True
            self._background.spawn(self._register_waiting(), name="first-contact registration")

    async def _register_waiting(self) -> None:
        try:
            while self._to_remember:
                await asyncio.sleep(0)  # the other turns of a burst join this batch
                batch, self._to_remember = self._to_remember, {}
                self._remembering.update(batch)
                try:
                    await self._remember_users(batch)
                finally:
                    self._remembering.difference_update(batch)
        finally:
            self._registering = False

    async def remember_user(
        self, person: Person, *, teams_id: str, reference: dict[str, Any] | None, upn: str = ""
    ) -> None:
        """Keep how to reach ``person``: Teams id (card views) and personal-chat reference."""
        await self._remember_users({person.object_id: _Contact(person, teams_id, reference, upn)})

    async def _remember_users(self, contacts: dict[str, _Contact]) -> None:
        # Runs for every turn's sender: compare with what this process last stored before
        # touching the database (a read per message doubled the cost of a guidance turn).
        unknown = [object_id for object_id in contacts if object_id not in self._users]
        stored = await self._registry.get_many(USER, unknown) if unknown else {}
        records: dict[str, dict[str, Any]] = {}
        changed: dict[str, dict[str, Any]] = {}
        for object_id, contact in contacts.items():
            known = self._users.get(object_id) or stored.get(object_id) or {}
            records[object_id] = record = _user_record(
                known, contact.person, contact.teams_id, contact.reference, contact.upn
            )
            if record != known:
                # Only what this turn knows, merged into the stored record: another instance
                # may have stored the rest meanwhile (a click carries no chat reference, and
                # writing back what was read before would erase the one just saved).
                fields = _user_record(
                    {}, contact.person, contact.teams_id, contact.reference, contact.upn
                )
                changed[object_id] = {name: value for name, value in fields.items() if value}
        await self._registry.merge_many(USER, changed)
        self._users.update(records)

    async def is_manager(self, person: Person) -> bool:
        """Whether ``person`` manages a department now (asked every time: roles change)."""
        return await self._directory.is_manager(person.object_id)

    async def departments_of_channel(self, channel_id: str) -> frozenset[str]:
        """The departments whose managers' channel ``channel_id`` is (set up there)."""
        return await self._channels.departments_of_channel(channel_id)

    def department_name(self, department_id: str) -> str:
        """The department's display name (for messages)."""
        return self._directory.department_name(department_id)

    async def viewer(self, person: Person) -> Viewer:
        """``person`` with the roles they hold now (asked every time: roles change)."""
        return await self._directory.viewer(person.object_id)

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
        card = escalation_card(
            view,
            self._library,
            locale,
            refresh_user_ids=await self._manager_teams_ids(incident),
            offer_decide=True,
        )
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

    # --- views

    async def facts(
        self, incident: Incident, *, undecided: bool = False, jobs: Sequence[Job] | None = None
    ) -> CaseFacts:
        """What Mamoru can count about the case now (figures and proportionate proposals).

        ``undecided``: the caller knows the case has no decision yet, so it has no
        organisation mail and no recorded skip reason (both follow an approval): they are
        not read. ``jobs``: all the case's jobs, if the caller has them in hand.
        """
        mail = await self.mail_facts.counts(incident) if self.mail_facts else None
        posts, platforms = await self.sns_spread(incident) if self.sns_spread else (0, 0)
        refusal_at = None
        skip = ""
        after = 0
        if self.mails is not None and not undecided:
            refusal_at = await self.mails.refusal_sent_at(incident.id, jobs=jobs)
            skip = await self.mails.skip_reason(incident.id)
            if refusal_at is not None and self.mail_facts is not None:
                after = await self.mail_facts.arrived_after(incident, refusal_at)
        return CaseFacts(
            mail=mail,
            sns_posts=posts,
            sns_platforms=platforms,
            refusal_sent_at=refusal_at,
            mail_after_refusal=after,
            skip_reason=skip,
        )

    async def view(
        self,
        incident: Incident,
        *,
        decision: DecisionRecord | None = None,
        jobs: Sequence[Job] | None = None,
        viewer: Person | None = None,
        facts: CaseFacts | None = None,
        drafts: Sequence[Draft] | None = None,
        tasks: Sequence[CaseTask] | None = None,
        linked: bool = True,
    ) -> CaseView:
        """Everything the escalation card shows for ``incident`` now.

        ``decision``, ``jobs``, ``facts``, ``drafts`` (the organisation's mails) and
        ``tasks`` may be given when the caller has them in hand; ``viewer`` signs the mail
        drafts of the decide view. ``linked=False`` leaves the linked cases out (the
        caller adds them for its viewer, or the thread's update shows them).
        """
        if decision is None:
            decision = await self.decision_of(incident.id)
        decided = None
        if decision is not None:
            decided = Decided(
                decision=decision.decision,
                by=decision.by.display_name,
                at=decision.at,
                comment=decision.comment,
                actions=decision.actions,
            )
        if jobs is None:
            jobs = await self._jobs.jobs_for_incident(incident.id)
        every_job = jobs  # read once: the facts and the mails' states come from them too
        # Only the approved actions' jobs: an export or a calendar entry is not progress of
        # an action (the 1:1's task line says it is in the calendar); mails have own lines.
        jobs = [j for j in jobs if j.kind in JOB_KINDS.values()]
        if facts is None:
            facts = await self.facts(incident, undecided=decided is None, jobs=every_job)
        proposals = propose(incident, facts)
        bodies: dict[ActionKind, str] = {}
        if self.mails is not None and decided is None:
            for proposal in proposals:
                if proposal.kind in MAIL_KINDS:
                    mail = self.mails.compose(proposal.kind, incident, facts, viewer)
                    bodies[proposal.kind] = mail.body
        mails: tuple[ActionLine, ...] = ()
        if decided is not None and self.mails is not None:
            if drafts is None:
                drafts = await self.mails.drafts(incident.id, jobs=every_job)
            mails = _mail_lines(drafts, decided)
        if tasks is None:
            tasks = await self.task_source(incident.id) if self.task_source else ()
        can_prepare_final = (
            decided is not None
            and decided.decision is Decision.APPROVE
            and self.mails is not None
            and not any(line.kind is ActionKind.FINAL_WARNING for line in mails)
            and ActionKind.FINAL_WARNING in {p.kind for p in proposals}
            and final_warning_proposal(facts).available
        )
        return CaseView(
            incident=incident,
            proposals=proposals,
            facts=facts,
            drafts=bodies,
            decided=decided,
            jobs=tuple(_job_line(j) for j in jobs),
            mails=mails,
            tasks=tuple(tasks),
            today=self._clock.now().astimezone(JST).date(),
            linked=(
                await self.link_source(incident, None) if self.link_source and linked else None
            ),
            reviewable=tuple(
                line.kind for line in mails if line.status is Status.AWAITING_CONFIRMATION
            ),
            can_prepare_final=can_prepare_final,
        )

    async def decision_of(self, incident_id: str) -> DecisionRecord | None:
        """The case's decision, or None while undecided (kept once read: it never changes)."""
        decided = self._decided.get(incident_id)
        if decided is None:
            decided = await self._decisions.decision_of(incident_id)
            if decided is not None:
                self._keep_decision(decided)
        return decided

    def _keep_decision(self, record: DecisionRecord) -> None:
        if len(self._decided) >= KEPT_PER_PROCESS:
            self._decided.clear()  # a bound, not a policy: read again when needed
        self._decided[record.incident_id] = record

    async def card_for(
        self,
        incident_id: str,
        viewer: Person,
        locale: Locale,
        *,
        view: CaseView | None = None,
        roles: Viewer | None = None,
    ) -> dict[str, Any]:
        """The card ``viewer`` should see (a refresh): the decide view only for deciders.

        The caller has opened the case for ``viewer`` (``bot.case_access``); what they may
        do beyond seeing it is the domain's rule (``bot.domain.access``). ``view``: the
        case as the caller has it in hand (its linked cases are shown as given);
        ``roles``: the viewer's roles, if the caller just asked for them.
        """
        if roles is None:
            roles = await self.viewer(viewer)
        if view is None:
            async with self._reads():
                incident = await self._store.load_incident(incident_id)
                view = await self.view(incident, viewer=viewer, linked=False)
                if self.link_source is not None:
                    view = replace(view, linked=await self.link_source(incident, roles))
        incident = view.incident
        note = None
        mode = ViewMode.READ
        if view.decided is None and roles.manages(incident.department):
            if involved(incident, viewer):
                note = "esc.own_case"
            else:
                mode = ViewMode.DECIDE
        return escalation_card(
            view,
            self._library,
            locale,
            mode=mode,
            note_key=note,
            refresh_user_ids=await self._manager_teams_ids(incident),
            can_export=permits(roles, incident, CaseAction.EXPORT),
        )

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
            proposals = tuple(p.kind for p in propose(incident, facts))
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

    def refresh_later(self, incident_id: str) -> None:
        """Update the thread's card after the clicker's answer (a mail confirmed...)."""
        self._background.spawn(
            self.refresh_thread(incident_id), name=f"thread card update of {incident_id}"
        )

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Wait for the background updates (tests, shutdown); ``PendingWork`` if stuck."""
        await self._background.drain(timeout)

    # --- updates

    async def refresh_thread(self, incident_id: str) -> None:
        """Update the thread's card for everyone with the case's current state."""
        async with self._reads():  # one connection for the case, its jobs, drafts, links...
            thread = await self._thread(incident_id)
            if thread is None:
                return
            incident = await self._store.load_incident(incident_id)
            view = await self.view(incident)
        locale = Locale.from_tag(thread.get("locale"))
        card = escalation_card(
            view,
            self._library,
            locale,
            refresh_user_ids=await self._manager_teams_ids(incident),
            offer_decide=True,
        )
        await self._messenger.update(_posted(thread), card)

    async def _thread(self, incident_id: str) -> dict[str, Any] | None:
        """Where the case's card is (kept once read: a thread is opened once per case)."""
        thread = self._threads.get(incident_id)
        if thread is None:
            thread = await self._registry.get(THREAD, incident_id)
            if thread is not None:
                if len(self._threads) >= KEPT_PER_PROCESS:
                    self._threads.clear()
                self._threads[incident_id] = thread
        return thread

    async def post_to_thread(self, incident_id: str, key: str, **values: Any) -> None:
        """A short message in the case's thread (reminders, job results)."""
        thread = await self._thread(incident_id)
        if thread is None:
            return
        locale = Locale.from_tag(thread.get("locale"))
        reference = {
            "channelId": "msteams",
            "serviceUrl": thread["service_url"],
            "conversation": {"id": thread["conversation_id"], "isGroup": True},
            "bot": {"id": "mamoru"},
        }
        await self._messenger.send(reference, text_card(t(key, locale, **values)))

    async def post_card_to_thread(
        self, incident_id: str, build: Callable[[Locale], dict[str, Any]]
    ) -> None:
        """A card in the case's thread, built in the thread's language."""
        thread = await self._thread(incident_id)
        if thread is None:
            return
        reference = {
            "channelId": "msteams",
            "serviceUrl": thread["service_url"],
            "conversation": {"id": thread["conversation_id"], "isGroup": True},
            "bot": {"id": "mamoru"},
        }
        await self._messenger.send(reference, build(Locale.from_tag(thread.get("locale"))))

    async def on_job_change(self, job: Job) -> None:
        """Job progress and results go to the thread; start and finish go to the staff member.

        Progress events only schedule a refresh of the thread's card, at most one per case
        every ``refresh_every`` seconds; state changes also move the case and tell the
        staff member (each notice once per case, across instances).
        """
        if job.kind == ESCALATE_JOB:
            return  # the escalation itself reports through its own messages
        if job.kind == ORG_MAIL_JOB and job.state.finished and self.mail_facts is not None:
            self.mail_facts.forget(job.incident_id)  # later mails count from this send on
        seen = (job.state, job.wait_reason)
        previous = self._job_states.get(job.id)
        self._job_states[job.id] = seen
        self._schedule_refresh(job.incident_id)
        if previous == seen:
            return  # progress only: the coalesced refresh shows it
        actions = (*JOB_KINDS.values(), ORG_MAIL_JOB)
        if job.kind not in actions:
            return  # exports and calendar entries are not an action's progress
        if job.state is JobState.RUNNING:
            await self._move(job.incident_id, IncidentState.IN_PROGRESS)
        elif job.state.finished:
            self._job_states.pop(job.id, None)
            await self.settle(job.incident_id)

    async def settle(self, incident_id: str) -> None:
        """Once all of a case's action jobs have ended: monitoring; the staff hear it once.

        Called on each job's end, and by the periodic reminders' sweep: an instance killed
        between finishing the last job and telling leaves it to the next period's sweep.
        The notice is stored (outbox) before the case moves on: the sweep looks only at
        cases not yet in monitoring, so a kill between the two must leave the move undone.
        """
        actions = (*JOB_KINDS.values(), ORG_MAIL_JOB)
        jobs = [j for j in await self._jobs.jobs_for_incident(incident_id) if j.kind in actions]
        # What was done and what is still open, each new state once.
        await self.notices.notify_staff(incident_id)
        if jobs and all(j.state.finished for j in jobs):
            await self._move(incident_id, IncidentState.MONITORING)

    def _schedule_refresh(self, incident_id: str, *, delay: float = 0.0) -> None:
        """Refresh the case's thread soon: after ``delay`` if idle, else after
        ``refresh_every`` since the last refresh."""
        if incident_id in self._refresh_pending:
            return
        self._refresh_pending.add(incident_id)
        loop = asyncio.get_running_loop()
        last = self._last_refresh.get(incident_id)
        if last is not None:
            delay = max(delay, last + self.refresh_every - loop.time())

        async def later() -> None:
            await asyncio.sleep(delay)
            # Cleared before the update: an event arriving meanwhile schedules the next one.
            self._refresh_pending.discard(incident_id)
            self._last_refresh[incident_id] = loop.time()
            await self.refresh_thread(incident_id)

        self._background.spawn(later(), name=f"thread card refresh of {incident_id}")

    async def _move(self, incident_id: str, target: IncidentState) -> None:
        # Job events race and repeat: the state machine refuses a move that is not allowed.
        with contextlib.suppress(InvalidTransition):
            await self._store.transition(incident_id, target, actor=MAMORU)

    # --- helpers

    async def _manager_teams_ids(self, incident: Incident) -> tuple[str, ...]:
        # The managers of the case's department get their own view of the card on refresh.
        # Every card build needs it and it reads every known user: keep it a minute.
        now = self._clock.now()
        department = incident.department
        cached = self._manager_ids_cache.get(department)
        if cached is not None and now - cached[0] < MANAGER_IDS_TTL:
            return cached[1]
        users = await self._registry.all(USER)
        ids = []
        for object_id, record in users.items():
            if not record.get("teams_id"):
                continue
            if (await self._directory.viewer(object_id)).manages(department):
                ids.append(record["teams_id"])
        result = tuple(sorted(ids))
        self._manager_ids_cache[department] = (now, result)
        return result


@dataclass(frozen=True, slots=True)
class _Contact:
    """What one turn says about how to reach its sender."""

    person: Person
    teams_id: str
    reference: dict[str, Any] | None
    upn: str


def _user_record(
    known: dict[str, Any],
    person: Person,
    teams_id: str,
    reference: dict[str, Any] | None,
    upn: str,
) -> dict[str, Any]:
    return {
        "teams_id": teams_id or known.get("teams_id", ""),
        "name": person.display_name or known.get("name", ""),
        "upn": upn or known.get("upn", ""),
        "reference": reference or known.get("reference"),
    }


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


def _mail_lines(drafts: Sequence[Draft], decided: Decided) -> tuple[ActionLine, ...]:
    """Each organisation mail of the case and where it stands (cards/status.py words)."""
    if decided.decision is Decision.REJECT:
        return ()
    status_of = {
        DraftState.AWAITING_CONFIRMATION: Status.AWAITING_CONFIRMATION,
        DraftState.SENDING: Status.SENDING,
        DraftState.SENT: Status.SENT,
        DraftState.FAILED: Status.FAILED,
    }
    lines = []
    for draft in drafts:
        status = status_of[draft.state]
        waiting = status is Status.AWAITING_CONFIRMATION
        lines.append(
            ActionLine(
                draft.kind,
                status,
                to=draft.mail.to,
                at=draft.sent_at,
                owner=t("esc.owner.manager", Locale.JA, name=decided.by) if waiting else "",
            )
        )
    return tuple(lines)


def _posted(thread: dict[str, Any]) -> Posted:
    return Posted(thread["conversation_id"], thread["activity_id"], thread["service_url"])


def _job_line(job: Job) -> JobLine:
    kind = ActionKind(job.params.get("action", ActionKind.MAIL_PROTECTION.value))
    return JobLine(
        kind=kind,
        state=job.state.value,
        done=job.progress_done,
        total=job.progress_total,
        error=job.last_error or "",
        job_id=job.id,
        wait_reason=job.wait_reason or "" if job.waiting else "",
        next_try=job.run_after if job.waiting else None,
    )


__all__ = ["Escalations", "Outcome", "mode_of"]
