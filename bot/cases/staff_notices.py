"""Staff notices: what Mamoru tells people in their personal chat about a case.

The reporter hears where their case went (sent to the managers, or why not yet), the
decision and each finished action; managers and task owners get reminders through the
same chat. Reaching someone needs the personal-chat reference their first message left
(registry kind ``user``); without it the caller falls back (the case's thread) or logs.

A case notice is told once per case and state: job events repeat and several instances
see them, so each is taken with a marker first.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from microsoft_agents.activity import Activity

from bot.domain.escalation import Decision
from bot.domain.incidents import Incident
from bot.domain.locale import Locale
from bot.domain.ports import JobQueue, Registry, Store
from bot.teams.messenger import Messenger
from bot.teams.replies import card_activity
from cards.escalation import CaseView, JobLine
from cards.i18n import t
from cards.notices import case_notice_card, rejection_notice_card, text_card
from cards.status import ActionLine, Status
from cards.tasks import task_label

log = logging.getLogger(__name__)

# Registry kind: Entra object id -> {teams_id, name, upn, reference (personal chat)}
USER = "user"


class StaffNotices:
    """Tells people about cases in their personal chat; each case notice once."""

    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        jobs: JobQueue,
        messenger: Messenger,
        view: Callable[[Incident], Awaitable[CaseView]],
    ) -> None:
        self._store = store
        self._registry = registry
        self._jobs = jobs
        self._messenger = messenger
        self._view = view  # the case as its card shows it (Escalations.view)

    # --- reaching someone

    async def reachable(self, object_id: str) -> bool:
        """Whether Mamoru can write to this person's personal chat (they wrote to it once)."""
        record = await self._registry.get(USER, object_id)
        return bool(record and record.get("reference"))

    async def send_to(self, object_id: str, build: Callable[[Locale], dict[str, Any]]) -> bool:
        """A card in someone's personal chat, in their language; False if not reachable."""
        return await self.send_message_to(object_id, lambda locale: card_activity(build(locale)))

    async def send_message_to(
        self, object_id: str, build: Callable[[Locale], Awaitable[Activity] | Activity]
    ) -> bool:
        """Any message (e.g. a file consent card) in someone's personal chat; False if not
        reachable."""
        record = await self._registry.get(USER, object_id)
        if not record or not record.get("reference"):
            return False
        locale = Locale.from_tag(record["reference"].get("locale"))
        activity = build(locale)
        if not isinstance(activity, Activity):
            activity = await activity
        await self._messenger.send_activity(record["reference"], activity)
        return True

    async def tell(self, object_id: str, key: str, **values: Any) -> bool:
        """A proactive message in someone's personal chat; False if Mamoru cannot reach them."""
        record = await self._registry.get(USER, object_id)
        if not record or not record.get("reference"):
            return False
        locale = Locale.from_tag(record["reference"].get("locale"))
        await self._messenger.send(record["reference"], text_card(t(key, locale, **values)))
        return True

    # --- the reporter

    async def tell_staff(self, incident: Incident, key: str, **values: Any) -> None:
        """A proactive message in the reporter's personal chat (if Mamoru can reach them)."""
        if not await self.tell(incident.reporter.object_id, key, id=incident.id, **values):
            log.info("incident %s: reporter not reachable proactively", incident.id)

    async def tell_staff_once(self, incident: Incident | str, key: str, **values: Any) -> None:
        """``tell_staff``, once per case and ``key`` across events and instances."""
        # Events repeat and several instances see them: the marker lets exactly one tell.
        incident_id = incident if isinstance(incident, str) else incident.id
        if await self._jobs.mark_once(f"notice:{incident_id}:{key}"):
            if isinstance(incident, str):
                incident = await self._store.load_incident(incident_id)
            await self.tell_staff(incident, key, **values)

    async def notify_staff(self, incident_id: str, *, view: CaseView | None = None) -> None:
        """Tell the reporter where the case stands: done, open (and whose), the comment.

        Sent on the decision and whenever an action finishes; the same state is told once
        (job events repeat and several instances see them). ``view``: the case as the
        caller has it in hand (the decision's own), not read again.
        """
        if view is None:
            view = await self._view(await self._store.load_incident(incident_id))
        incident = view.incident
        decided = view.decided
        if decided is None:
            return
        lines = [action_line(job) for job in view.jobs] + list(view.mails)
        open_tasks = [
            t("esc.task_open", Locale.JA, task=task_label(task, Locale.JA), owner=task.owner_name)
            for task in view.tasks
            if task.done_at is None
        ]
        # Only a decision or a finished action is news: running, waiting and queued are all
        # "open" here, so a job that starts waiting does not send a second "approved" notice.
        signature = ",".join(
            f"{line.kind.value}={line.status.value if line.status.finished else 'open'}"
            for line in lines
        )
        signature += f";tasks={len(open_tasks)}"
        if not await self._jobs.mark_once(f"notice:{incident.id}:status:{signature}"):
            return

        def build(locale: Locale) -> dict[str, Any]:
            if decided.decision is Decision.REJECT:
                return rejection_notice_card(
                    incident.id, locale, manager=decided.by, comment=decided.comment
                )
            tasks = [
                t("esc.task_open", locale, task=task_label(task, locale), owner=task.owner_name)
                for task in view.tasks
                if task.done_at is None
            ]
            first = not any(line.status.finished for line in lines)
            return case_notice_card(
                incident.id,
                lines,
                locale,
                title_key="notice.approved" if first else "notice.update",
                manager=decided.by,
                comment=decided.comment,
                open_tasks=tasks,
            )

        if not await self.send_to(incident.reporter.object_id, build):
            log.info("incident %s: reporter not reachable proactively", incident.id)


def action_line(job: JobLine) -> ActionLine:
    """A job's line in the staff notice (the same words as on the thread's card)."""
    status = {
        "queued": Status.QUEUED,
        "running": Status.RUNNING,
        "succeeded": Status.DONE,
        "failed": Status.FAILED,
        "cancelled": Status.CANCELLED,
    }.get(job.state, Status.QUEUED)
    return ActionLine(job.kind, status, done=job.done, total=job.total, error=job.error)
