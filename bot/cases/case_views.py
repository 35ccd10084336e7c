"""The escalation card's content: a case as its managers' thread shows it.

``CaseViewsMixin`` (part of ``Escalations``) gathers what the card shows: the figures
Mamoru counts (``facts``), the proposals, the decision, the approved actions' jobs, the
organisation mails and the tasks for people, and renders the card a given viewer should
see. What never changes once written (a case's decision) is kept per process; the reads
that render one card share one connection (``Engines.reads``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Any

from bot.cases.drafts import MAIL_KINDS, Draft, OrgMails
from bot.cases.facts import MailFacts
from bot.cases.staff_notices import USER
from bot.domain.access import CaseAction, Viewer, permits
from bot.domain.decisions import DecisionRecord
from bot.domain.escalation import (
    ActionKind,
    ActionMode,
    CaseFacts,
    Decision,
    final_warning_proposal,
    involved,
    propose,
)
from bot.domain.incidents import JST, Incident, Person
from bot.domain.jobs import Job
from bot.domain.linking import LinkedCases
from bot.domain.locale import Locale
from bot.domain.outgoing import DraftState
from bot.domain.playbooks import PlaybookLibrary
from bot.domain.ports import (
    Clock,
    DecisionLog,
    Directory,
    JobQueue,
    Registry,
    Store,
)
from bot.domain.tasks import CaseTask
from cards.escalation import CaseView, Decided, JobLine, ViewMode, escalation_card
from cards.i18n import t
from cards.status import ActionLine, Status

# The approved actions that run as jobs (organisation mails wait for their preview and
# are sent by bot/cases/drafts.py's one send job after 「この内容で送信」).
JOB_KINDS = {ActionMode.AUTOMATED: "mail-protection"}
MANAGER_IDS_TTL = dt.timedelta(seconds=60)  # who gets the managers' view of a card
KEPT_PER_PROCESS = 10_000  # cases whose thread and decision a process keeps in memory


@dataclass(frozen=True, slots=True)
class StoredCase:
    """What a case's card shows that the database holds besides the case itself."""

    decision: DecisionRecord | None
    jobs: tuple[Job, ...]
    drafts: tuple[Draft, ...]
    tasks: tuple[CaseTask, ...]
    skip: str | None  # the reason to skip the refusal step; None: not read (undecided)


class CaseViewsMixin:
    """What the escalation card shows, and the card for a viewer (``Escalations``)."""

    _store: Store
    _decisions: DecisionLog
    _registry: Registry
    _directory: Directory
    _jobs: JobQueue
    _library: PlaybookLibrary
    _clock: Clock
    _reads: Callable[[], AbstractAsyncContextManager[None]]
    _decided: dict[str, DecisionRecord]
    _manager_ids_cache: dict[str, tuple[dt.datetime, tuple[str, ...]]]
    task_source: Callable[[str], Awaitable[tuple[CaseTask, ...]]] | None
    link_source: Callable[[Incident, Viewer | None], Awaitable[LinkedCases]] | None
    mails: OrgMails | None
    mail_facts: MailFacts | None
    sns_spread: Callable[[Incident], Awaitable[tuple[int, int]]] | None
    free_mail: frozenset[str]

    async def viewer(self, person: Person) -> Viewer:
        """``person`` with the roles they hold now (asked every time: roles change)."""
        return await self._directory.viewer(person.object_id)

    async def _staff_view(self, incident: Incident) -> CaseView:
        return await self.view(incident, linked=False)

    async def facts(
        self,
        incident: Incident,
        *,
        undecided: bool = False,
        jobs: Sequence[Job] | None = None,
        skip: str | None = None,
    ) -> CaseFacts:
        """What Mamoru can count about the case now (figures and proportionate proposals).

        ``undecided``: the caller knows the case has no decision yet, so it has no
        organisation mail and no recorded skip reason (both follow an approval): they are
        not read. ``jobs``, ``skip``: all the case's jobs and its skip reason, if the caller
        has them in hand.
        """
        mail = await self.mail_facts.counts(incident) if self.mail_facts else None
        posts, platforms = await self.sns_spread(incident) if self.sns_spread else (0, 0)
        refusal_at = None
        after = 0
        if self.mails is not None and not undecided:
            refusal_at = await self.mails.refusal_sent_at(incident.id, jobs=jobs)
            if skip is None:
                skip = await self.mails.skip_reason(incident.id)
            if refusal_at is not None and self.mail_facts is not None:
                after = await self.mail_facts.arrived_after(incident, refusal_at)
        return CaseFacts(
            mail=mail,
            sns_posts=posts,
            sns_platforms=platforms,
            refusal_sent_at=refusal_at,
            mail_after_refusal=after,
            skip_reason=skip or "",
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
        skip: str | None = None,
    ) -> CaseView:
        """Everything the escalation card shows for ``incident`` now.

        ``decision``, ``jobs``, ``facts``, ``drafts`` (the organisation's mails) and
        ``tasks`` may be given when the caller has them in hand; ``viewer`` signs the mail
        drafts of the decide view. ``linked=False`` leaves the linked cases out (the
        caller adds them for its viewer, or the thread's update shows them).
        """
        stored = await self.stored(
            incident,
            decision=decision,
            jobs=jobs,
            drafts=drafts,
            tasks=tasks,
            skip="" if facts is not None else skip,
        )
        decision, jobs, drafts, tasks = stored.decision, stored.jobs, stored.drafts, stored.tasks
        # Outside the database's part: counting the mails may ask Graph, with no connection
        # held meanwhile.
        decided = None
        if decision is not None:
            decided = Decided(
                decision=decision.decision,
                by=decision.by.display_name,
                at=decision.at,
                comment=decision.comment,
                actions=decision.actions,
            )
        every_job = jobs  # read once: the facts and the mails' states come from them too
        # Only the approved actions' jobs: an export or a calendar entry is not progress of
        # an action (the 1:1's task line says it is in the calendar); mails have own lines.
        jobs = [j for j in jobs if j.kind in JOB_KINDS.values()]
        if facts is None:
            facts = await self.facts(
                incident, undecided=decided is None, jobs=every_job, skip=stored.skip
            )
        proposals = propose(incident, facts, shared_domains=self.free_mail)
        bodies: dict[ActionKind, str] = {}
        if self.mails is not None and decided is None:
            for proposal in proposals:
                if proposal.kind in MAIL_KINDS:
                    mail = self.mails.compose(proposal.kind, incident, facts, viewer)
                    bodies[proposal.kind] = mail.body
        mails: tuple[ActionLine, ...] = ()
        if decided is not None and drafts is not None:
            mails = _mail_lines(drafts, decided)
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

    async def stored(
        self,
        incident: Incident,
        *,
        decision: DecisionRecord | None = None,
        jobs: Sequence[Job] | None = None,
        drafts: Sequence[Draft] | None = None,
        tasks: Sequence[CaseTask] | None = None,
        skip: str | None = None,
    ) -> StoredCase:
        """What the card shows from the database, on one connection: what is given is not
        read (nothing given: the decision, the jobs, the drafts, the tasks, the skip
        reason). Joins the caller's ``reads`` block if it has one."""
        async with self._reads():
            if decision is None:
                decision = await self.decision_of(incident.id)
            if jobs is None:
                jobs = await self._jobs.jobs_for_incident(incident.id)
            if decision is not None and self.mails is not None:
                if drafts is None:
                    drafts = await self.mails.drafts(incident.id, jobs=jobs)
                if skip is None:
                    skip = await self.mails.skip_reason(incident.id)
            if tasks is None:
                tasks = await self.task_source(incident.id) if self.task_source else ()
        return StoredCase(decision, tuple(jobs), tuple(drafts or ()), tuple(tasks), skip)

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
