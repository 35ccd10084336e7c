"""The case's thread in the managers' channel: its card kept current, messages posted.

``ThreadCardsMixin`` (part of ``Escalations``) updates the thread's card for everyone
and turns job events into updates: progress only schedules a refresh, at most one per
case every ``refresh_every`` seconds (the decision's own refresh joins the jobs' first
progress); state changes also move the case and tell the staff member. Where a case's
card is never changes once the thread is opened, so it is kept per process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any

from bot.background import BackgroundWork
from bot.cases.case_views import JOB_KINDS, KEPT_PER_PROCESS
from bot.cases.facts import MailFacts
from bot.cases.staff_notices import StaffNotices
from bot.domain.access import Viewer
from bot.domain.errors import InvalidTransition
from bot.domain.incidents import Incident, IncidentState, Person
from bot.domain.jobs import Job, JobState
from bot.domain.linking import LinkedCases
from bot.domain.locale import Locale
from bot.domain.playbooks import PlaybookLibrary
from bot.domain.ports import (
    JobQueue,
    Registry,
    Store,
)
from bot.teams.messenger import Messenger, Posted
from cards.escalation import CaseView, escalation_card
from cards.i18n import t
from cards.notices import text_card

THREAD = "thread"  # key: incident id -> {conversation_id, activity_id, service_url, locale}
MAMORU = Person(object_id="mamoru", display_name="Mamoru")  # the actor of automatic moves
REFRESH_EVERY_SECONDS = 3.0  # at most one update of a thread's card per case this often
ESCALATE_JOB = "escalate"
ORG_MAIL_JOB = "org-mail"


class ThreadCardsMixin:
    """The thread's card for everyone, messages in the thread, job events (``Escalations``)."""

    _store: Store
    _registry: Registry
    _jobs: JobQueue
    _messenger: Messenger
    _library: PlaybookLibrary
    _reads: Callable[[], AbstractAsyncContextManager[None]]
    _background: BackgroundWork
    _threads: dict[str, dict[str, Any]]
    _job_states: dict[str, tuple[JobState, str | None]]
    _refresh_pending: set[str]
    _last_refresh: dict[str, float]
    refresh_every: float
    mail_facts: MailFacts | None
    notices: StaffNotices
    link_source: Callable[[Incident, Viewer | None], Awaitable[LinkedCases]] | None

    def refresh_later(self, incident_id: str) -> None:
        """Update the thread's card after the clicker's answer (a mail confirmed...)."""
        self._background.spawn(
            self.refresh_thread(incident_id), name=f"thread card update of {incident_id}"
        )

    async def refresh_thread(self, incident_id: str) -> None:
        """Update the thread's card for everyone with the case's current state."""
        async with self._reads():  # where the card is, the case and its parts: one connection
            thread = await self._thread(incident_id)
            if thread is None:
                return
            incident = await self._store.load_incident(incident_id)
            stored = await self.stored(incident)
        # The rest with no connection held: the mail counts may ask Graph, and the linked
        # cases take connections of their own (one taken while holding another can wait
        # forever once every connection of the pool is held that way).
        links = await self.link_source(incident, None) if self.link_source else None
        view = await self.view(
            incident,
            decision=stored.decision,
            jobs=stored.jobs,
            drafts=stored.drafts,
            tasks=stored.tasks,
            skip=stored.skip,
            linked=False,
        )
        view = replace(view, linked=links)
        card = await self.thread_card(incident, view, Locale.from_tag(thread.get("locale")))
        await self._messenger.update(_posted(thread), card)

    async def thread_card(
        self, incident: Incident, view: CaseView, locale: Locale
    ) -> dict[str, Any]:
        """The card everyone in the managers' thread sees (each manager refreshes their own)."""
        return escalation_card(
            view,
            self._library,
            locale,
            refresh_user_ids=await self._manager_teams_ids(incident),
            offer_decide=True,
        )

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


def _posted(thread: dict[str, Any]) -> Posted:
    return Posted(thread["conversation_id"], thread["activity_id"], thread["service_url"])
