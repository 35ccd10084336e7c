"""Manual tasks on a case: created by an approval, assigned, marked done, followed up.

When a manager approves an action that people carry out (a platform report, a police or
legal consultation, safety measures, a 1:1 follow-up, asking IT for a domain filter),
it becomes tasks owned by that manager (``bot.domain.tasks``), kept in their own table
and shown on the thread's card and in the case detail. A manager of the department
can hand a task to another manager and mark it done. The 1:1 follow-up is also put in
Outlook through Graph by a durable job; the event's ``transactionId`` is derived from the
case, so a retried job never creates a second one.

Where the event lives: in the **department mailbox's** calendar (``MAMORU_DEPARTMENT_MAILBOX``),
with the owning manager invited as a required attendee. The IT guide's Exchange RBAC for
Applications scope is the opted-in staff plus the department mailbox, never managers'
mailboxes: writing to the manager's own calendar would be refused (403), and widening the
scope to managers would also give Mamoru Mail.ReadWrite and Mail.Send on their mail. The
staff member's calendar is not used either: someone harassed on social media need not have
opted in to mail protection. Exchange delivers the invitation, so the event still appears
in the manager's calendar, organised by the department (the organisation acts, not a person).
An invitation needs the manager's address: when Mamoru does not know it (Teams turns carry
the Entra object id, not the UPN), the event stays in the department calendar with the
owner's name in it, and the thread card shows owner and due date as always.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from bot.cases.staff_notices import USER
from bot.domain.access import CaseAction, permits
from bot.domain.errors import PermanentJobError, RetryableJobError
from bot.domain.escalation import ApprovedAction
from bot.domain.incidents import JST, Incident, Person
from bot.domain.jobs import Job, JobSpec
from bot.domain.mailbox import MailboxError, MailboxUnavailable
from bot.domain.ports import Clock, Directory, JobQueue, Registry, TaskRepository
from bot.domain.tasks import CaseTask, TaskKind, tasks_for

log = logging.getLogger(__name__)
CARE_EVENT_JOB = "sns-care-event"  # name kept: queued jobs of earlier versions still run
FOLLOWUP_HOUR_JST = 10
FOLLOWUP_MINUTES = 30


class Calendar(Protocol):
    """Creates calendar events (GraphMailbox implements it)."""

    async def create_event(
        self,
        mailbox: str,
        *,
        subject: str,
        body: str,
        start: dt.datetime,
        end: dt.datetime,
        transaction_id: str,
        attendees: Sequence[str] = (),
    ) -> str:
        """Create the event in ``mailbox``'s calendar, inviting ``attendees`` (addresses).

        The same ``transaction_id`` never creates a second one.
        """
        ...


class CaseTasks:
    """The tasks of every case, and the follow-up calendar events."""

    def __init__(
        self,
        *,
        tasks: TaskRepository,
        registry: Registry,
        directory: Directory,
        jobs: JobQueue,
        calendar: Calendar,
        clock: Clock,
        calendar_mailbox: str = "",
        on_change: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._calendar_mailbox = calendar_mailbox
        self._tasks = tasks
        self._registry = registry
        self._directory = directory
        self._jobs = jobs
        self._calendar = calendar
        self._clock = clock
        self._on_change = on_change

    def today(self) -> dt.date:
        """Today where the staff work (due dates are Japanese calendar days)."""
        return self._clock.now().astimezone(JST).date()

    async def tasks(self, incident_id: str) -> tuple[CaseTask, ...]:
        """The case's tasks, in the order created."""
        return tuple(await self._tasks.tasks_of(incident_id))

    async def tasks_of_many(self, incident_ids: Sequence[str]) -> dict[str, list[CaseTask]]:
        """The tasks of several cases (the case list)."""
        return await self._tasks.tasks_of_many(incident_ids)

    def planned(
        self, incident: Incident, actor: Person, approved: Sequence[ApprovedAction]
    ) -> tuple[tuple[CaseTask, ...], tuple[JobSpec, ...]]:
        """The tasks approving ``approved`` creates, owned by ``actor``, and the 1:1's
        calendar job: written by the decision's own transaction (nothing is read)."""
        now = self._clock.now()
        new: list[CaseTask] = []
        for action in approved:
            new.extend(
                tasks_for(
                    incident.id,
                    action.kind.value,
                    owner_id=actor.object_id,
                    owner_name=actor.display_name,
                    at=now,
                    today=self.today(),
                )
            )
        jobs = tuple(
            JobSpec(
                kind=CARE_EVENT_JOB,
                incident_id=incident.id,
                # "action" names the approved action on the thread card's job line.
                params={
                    "action": "care-followup",
                    "owner": task.owner_id,
                    "due": task.due.isoformat(),
                },
                idempotency_key=f"{incident.id}:{CARE_EVENT_JOB}",
            )
            for task in new
            if task.kind is TaskKind.FOLLOWUP_1ON1
        )
        return tuple(new), jobs

    async def mark_done(self, incident_id: str, kind: TaskKind, actor: Person) -> CaseTask:
        """Mark the case's task ``kind`` done by ``actor`` (again: kept as first done)."""
        task = await self._tasks.get_task(incident_id, kind)
        done = task.marked_done(actor.display_name, self._clock.now())
        if done is not task:
            await self._tasks.save_task(done)
            log.info("incident %s: task %s done", incident_id, kind.value)
            await self._changed(incident_id)
        return done

    async def assign(self, incident: Incident, kind: TaskKind, owner: Person) -> CaseTask:
        """Hand the case's task ``kind`` to ``owner`` (a manager of its department now)."""
        incident_id = incident.id
        viewer = await self._directory.viewer(owner.object_id)
        if not permits(viewer, incident, CaseAction.MANAGE):  # not someone the case is about
            raise NotAManager(owner.object_id)
        task = await self._tasks.get_task(incident_id, kind)
        moved = task.assigned_to(owner.object_id, owner.display_name)
        await self._tasks.save_task(moved)
        log.info("incident %s: task %s reassigned", incident_id, kind.value)
        await self._changed(incident_id)
        return moved

    async def managers(self, department: str) -> list[Person]:
        """The department's managers Mamoru knows (they wrote to it once), by name."""
        people = []
        for object_id, record in (await self._registry.all(USER)).items():
            if (await self._directory.viewer(object_id)).manages(department):
                people.append(Person(object_id, str(record.get("name") or object_id)))
        return sorted(people, key=lambda p: p.display_name)

    async def overdue(self) -> list[CaseTask]:
        """Every open task past its due date (for the reminders)."""
        return await self._tasks.open_overdue(self.today())

    async def _changed(self, incident_id: str) -> None:
        if self._on_change:
            await self._on_change(incident_id)

    async def care_event_job(self, job: Job, _context: object) -> None:
        """Job handler: the 1:1 follow-up in the department calendar, the owner invited (once)."""
        if not self._calendar_mailbox:
            # Not retryable: nothing changes until IT sets it (the card shows this reason).
            raise PermanentJobError("no department mailbox: set MAMORU_DEPARTMENT_MAILBOX")
        owner = str(job.params.get("owner") or "")
        due = dt.date.fromisoformat(str(job.params["due"]))
        record = await self._registry.get(USER, owner) or {}
        upn = str(record.get("upn") or "")
        owner_name = str(record.get("name") or "")
        start = dt.datetime.combine(due, dt.time(FOLLOWUP_HOUR_JST), JST)
        try:
            await self._calendar.create_event(
                self._calendar_mailbox,
                # The case id only: a calendar is seen by assistants and delegates.
                subject=f"1on1 フォローアップ（{job.incident_id}）",
                body=(
                    (f"担当: {owner_name}。" if owner_name else "")
                    + f"案件 {job.incident_id} の職員との1on1フォローアップです。"
                    "体調・業務の負担・帰宅時の安全を確認し、必要なら産業医・相談窓口につなぎます。"
                    "内容は Mamoru の案件スレッドを参照してください。"
                ),
                start=start,
                end=start + dt.timedelta(minutes=FOLLOWUP_MINUTES),
                transaction_id=f"mamoru-{job.incident_id}-followup-1on1",
                # An invitation needs an address; without one the department calendar still
                # holds the item and the thread card names the owner.
                attendees=[upn] if "@" in upn else [],
            )
        except MailboxUnavailable as exc:
            raise RetryableJobError(type(exc).__name__) from exc
        except MailboxError as exc:
            raise PermanentJobError(exc.code or type(exc).__name__) from exc
        log.info("incident %s: follow-up event created", job.incident_id)


class NotAManager(Exception):
    """A task can only go to a manager."""
