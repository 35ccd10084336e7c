"""Reminders: undecided escalations are re-notified; open cases prompt their owner; overdue
tasks are reminded to whoever owns them (in their personal chat, else in the case's thread).

``tick()`` runs every few minutes (a loop started with the app) and is safe with
several bot instances: each reminder is taken with an at-most-once marker, so two
instances never send the same one. Reminders stay at most once on purpose: a process
killed between the marker and the send loses that one reminder, and the next period's
reminder (or the task's owner looking at the card) makes up for it; a doubled reminder
would be noise. What must not be lost, the staff member's notices, goes through the
outbox instead: the tick is also its sweep (``StaffNotices.sweep``), and it settles
cases whose last action may have ended without its notice being stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from bot.cases.escalation import THREAD, Escalations
from bot.cases.staff_notices import USER
from bot.cases.tasks import CaseTasks
from bot.domain.incidents import IncidentState
from bot.domain.locale import Locale
from bot.domain.playbooks import PlaybookLibrary
from bot.domain.ports import Clock, JobQueue, Registry, Store
from cards.i18n import t

log = logging.getLogger(__name__)
OPEN = frozenset(
    {IncidentState.ACTIONS_APPROVED, IncidentState.IN_PROGRESS, IncidentState.MONITORING}
)
# A decision or a job's end this recent may still lack its stored notice (the instance
# died in between): the sweep looks at such cases again.
RECENT = dt.timedelta(days=1)


class Reminders:
    """Sends the reminders that are due."""

    def __init__(
        self,
        *,
        escalations: Escalations,
        store: Store,
        registry: Registry,
        jobs: JobQueue,
        library: PlaybookLibrary,
        clock: Clock,
        undecided_after: dt.timedelta,
        tasks: CaseTasks | None = None,
    ) -> None:
        self._tasks = tasks
        self._escalations = escalations
        self._store = store
        self._registry = registry
        self._jobs = jobs
        self._library = library
        self._clock = clock
        self._undecided_after = undecided_after

    async def tick(self) -> int:
        """Send every reminder due now; returns how many were sent."""
        now = self._clock.now()
        # Notices stored but not sent (their sender died or the send failed).
        await self._escalations.notices.sweep()
        sent = 0
        for incident_id, thread in (await self._registry.all(THREAD)).items():
            incident = await self._store.load_incident(incident_id)
            if incident.state is IncidentState.ESCALATED and "at" in thread:
                sent += await self._undecided(incident_id, thread, now)
            elif incident.state in OPEN:
                if incident.state is not IncidentState.MONITORING or await self._ended_lately(
                    incident_id, now
                ):
                    # The sweep: jobs that ended while their instance died before telling
                    # (a notice already stored is not stored again: one row per key).
                    await self._escalations.settle(incident_id)
                sent += await self._follow_ups(incident_id, incident.type.value, now)
            elif incident.state is IncidentState.REJECTED:
                decision = await self._escalations.decision_of(incident_id)
                if decision is not None and now - decision.at < RECENT:
                    await self._escalations.notices.notify_staff(incident_id)
        return sent + await self._overdue_tasks()

    async def _ended_lately(self, incident_id: str, now: dt.datetime) -> bool:
        # A mail sent after the case reached monitoring: its notice may be missing too.
        return any(
            job.finished_at is not None and now - job.finished_at < RECENT
            for job in await self._jobs.jobs_for_incident(incident_id)
        )

    async def _overdue_tasks(self) -> int:
        if self._tasks is None:
            return 0
        sent = 0
        for task in await self._tasks.overdue():
            # Once per task and due date (a task handed over with a new owner keeps its date).
            if not await self._jobs.mark_once(
                f"task-overdue:{task.incident_id}:{task.kind.value}:{task.due.isoformat()}"
            ):
                continue
            record = await self._registry.get(USER, task.owner_id) or {}
            locale = Locale.from_tag((record.get("reference") or {}).get("locale"))
            values = {"id": task.incident_id, "due": task.due.isoformat()}
            if not await self._escalations.notices.tell(
                task.owner_id,
                "tasks.reminder",
                task=t(f"task.{task.kind.value}", locale),
                **values,
            ):
                await self._escalations.post_to_thread(
                    task.incident_id,
                    "tasks.reminder",
                    task=t(f"task.{task.kind.value}", Locale.JA),
                    **values,
                )
            sent += 1
            log.info("incident %s: overdue task reminded", task.incident_id)
        return sent

    async def _undecided(self, incident_id: str, thread: dict[str, str], now: dt.datetime) -> int:
        waited = now - dt.datetime.fromisoformat(thread["at"])
        periods = int(waited / self._undecided_after)
        # One reminder per elapsed period, whoever's instance notices first.
        if periods < 1 or not await self._jobs.mark_once(f"remind:{incident_id}:{periods}"):
            return 0
        hours = round(self._undecided_after.total_seconds() / 3600 * periods)
        await self._escalations.post_to_thread(
            incident_id, "esc.reminder", id=incident_id, hours=hours
        )
        log.info("incident %s: undecided reminder %d sent", incident_id, periods)
        return 1

    async def _follow_ups(self, incident_id: str, playbook_id: str, now: dt.datetime) -> int:
        decision = await self._escalations.decision_of(incident_id)
        playbook = self._library.get(playbook_id)
        if decision is None or not playbook:
            return 0
        decided_at = decision.at
        sent = 0
        for number, follow_up in enumerate(playbook.follow_ups):
            if now < decided_at + dt.timedelta(days=follow_up.after_days):
                continue
            if not await self._jobs.mark_once(f"follow-up:{incident_id}:{number}"):
                continue
            # The owner is the manager who decided; the thread hears it if they can't be reached.
            owner = decision.by.object_id
            record = await self._registry.get("user", owner) or {}
            locale = Locale.from_tag((record.get("reference") or {}).get("locale"))
            text = follow_up.text(locale)
            if not await self._escalations.notices.tell(
                owner, "esc.follow_up", id=incident_id, text=text
            ):
                await self._escalations.post_to_thread(
                    incident_id, "esc.follow_up", id=incident_id, text=follow_up.text(Locale.JA)
                )
            sent += 1
            log.info("incident %s: follow-up %d prompted", incident_id, number)
        return sent

    async def run_forever(self, interval: dt.timedelta) -> None:
        """Tick every ``interval`` until cancelled; a failed tick is logged, not fatal."""
        while True:
            try:
                await self.tick()
            except Exception as exc:  # the loop must survive a database hiccup
                log.error("reminders failed: %s", type(exc).__name__)
            await asyncio.sleep(interval.total_seconds())


async def stop(task: asyncio.Task[None] | None) -> None:
    """Cancel the reminder loop and wait for it."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
