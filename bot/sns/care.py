"""Safety measures and care on a case: checklist items with an owner and a due date.

When a manager approves ``safety-measures`` or ``care-followup``, each becomes checklist
items owned by that manager (stored in the registry, shown on the thread's card, marked
done by a manager). The 1:1 follow-up is also put in the owner's Outlook calendar
through Graph by a durable job; the event's ``transactionId`` is derived from the case,
so a retried job never creates a second event.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from bot.domain.errors import PermanentJobError, RetryableJobError
from bot.domain.escalation import ApprovedAction
from bot.domain.incidents import JST, Incident, Person
from bot.domain.jobs import Job, JobSpec
from bot.domain.mailbox import MailboxError, MailboxUnavailable
from bot.domain.ports import Clock, JobQueue, Registry
from bot.domain.sns import CareTask, TaskKind, tasks_for
from bot.escalation import USER

log = logging.getLogger(__name__)
TASKS = "sns-tasks"  # registry kind; key: incident id -> {"tasks": [...]}
CARE_EVENT_JOB = "sns-care-event"
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
    ) -> str:
        """Create the event; the same ``transaction_id`` never creates a second one."""
        ...


class TaskNotFound(Exception):
    """The case has no checklist item of this kind."""


def _to_json(task: CareTask) -> dict[str, Any]:
    return {
        "kind": task.kind.value,
        "owner_id": task.owner_id,
        "owner_name": task.owner_name,
        "due": task.due.isoformat(),
        "done_at": task.done_at.isoformat() if task.done_at else None,
        "done_by": task.done_by,
    }


def _from_json(value: dict[str, Any]) -> CareTask:
    done_at = value.get("done_at")
    return CareTask(
        kind=TaskKind(value["kind"]),
        owner_id=value["owner_id"],
        owner_name=value["owner_name"],
        due=dt.date.fromisoformat(value["due"]),
        done_at=dt.datetime.fromisoformat(done_at) if done_at else None,
        done_by=value.get("done_by", ""),
    )


class CareTasks:
    """The checklist of safety and care items per case, and the follow-up events."""

    def __init__(
        self,
        *,
        registry: Registry,
        jobs: JobQueue,
        calendar: Calendar,
        clock: Clock,
        on_change: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._registry = registry
        self._jobs = jobs
        self._calendar = calendar
        self._clock = clock
        self._on_change = on_change

    async def tasks(self, incident_id: str) -> tuple[CareTask, ...]:
        """The case's checklist, in the order created."""
        record = await self._registry.get(TASKS, incident_id) or {}
        return tuple(_from_json(v) for v in record.get("tasks", []))

    async def _save(self, incident_id: str, tasks: Sequence[CareTask]) -> None:
        await self._registry.put(TASKS, incident_id, {"tasks": [_to_json(t) for t in tasks]})

    async def on_approved(
        self, incident: Incident, actor: Person, approved: Sequence[ApprovedAction]
    ) -> None:
        """Create the checklist items of the approved actions; queue the follow-up event."""
        existing = await self.tasks(incident.id)
        kinds = {t.kind for t in existing}
        today = self._clock.now().astimezone(JST).date()
        new: list[CareTask] = []
        for action in approved:
            for task in tasks_for(
                action.kind.value,
                owner_id=actor.object_id,
                owner_name=actor.display_name,
                today=today,
            ):
                if task.kind not in kinds:
                    new.append(task)
                    kinds.add(task.kind)
        if not new:
            return
        await self._save(incident.id, (*existing, *new))
        log.info("incident %s: %d safety/care items created", incident.id, len(new))
        for task in new:
            if task.kind is TaskKind.FOLLOWUP_1ON1:
                await self._jobs.enqueue(
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
                )

    async def mark_done(self, incident_id: str, kind: TaskKind, actor: Person) -> CareTask:
        """Mark the case's item ``kind`` done by ``actor`` (again: kept as first done)."""
        tasks = list(await self.tasks(incident_id))
        for index, task in enumerate(tasks):
            if task.kind is kind:
                if task.done:
                    return task
                done = CareTask(
                    task.kind,
                    task.owner_id,
                    task.owner_name,
                    task.due,
                    done_at=self._clock.now(),
                    done_by=actor.display_name,
                )
                tasks[index] = done
                await self._save(incident_id, tasks)
                log.info("incident %s: care item %s done", incident_id, kind.value)
                if self._on_change:
                    await self._on_change(incident_id)
                return done
        raise TaskNotFound(kind.value)

    async def care_event_job(self, job: Job, _context: object) -> None:
        """Job handler: the 1:1 follow-up in the owner's Outlook calendar (once per case)."""
        owner = str(job.params.get("owner") or "")
        due = dt.date.fromisoformat(str(job.params["due"]))
        record = await self._registry.get(USER, owner) or {}
        mailbox = str(record.get("upn") or owner)  # Graph takes a UPN or an object id
        start = dt.datetime.combine(due, dt.time(FOLLOWUP_HOUR_JST), JST)
        try:
            await self._calendar.create_event(
                mailbox,
                # The case id only: a calendar is seen by assistants and delegates.
                subject=f"1on1 フォローアップ（{job.incident_id}）",
                body=(
                    f"案件 {job.incident_id} の職員との1on1フォローアップです。"
                    "体調・業務の負担・帰宅時の安全を確認し、必要なら産業医・相談窓口につなぎます。"
                    "内容は Mamoru の案件スレッドを参照してください。"
                ),
                start=start,
                end=start + dt.timedelta(minutes=FOLLOWUP_MINUTES),
                transaction_id=f"mamoru-{job.incident_id}-followup-1on1",
            )
        except MailboxUnavailable as exc:
            raise RetryableJobError(type(exc).__name__) from exc
        except MailboxError as exc:
            raise PermanentJobError(exc.code or type(exc).__name__) from exc
        log.info("incident %s: follow-up event created", job.incident_id)
