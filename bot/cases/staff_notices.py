"""Staff notices: what Mamoru tells people in their personal chat about a case.

The reporter hears where their case went (sent to the managers, or why not yet), the
decision and each finished action; managers and task owners get reminders through the
same chat. Reaching someone needs the personal-chat reference their first message left
(registry kind ``user``); without it the caller falls back (the case's thread) or logs.

A case notice is delivered at least once and, in practice, exactly once, through the
notice outbox (``JobQueue.outbox_*``, table ``notice_outbox``):

1. When the fact happens (the thread opened, the decision, an action finished), the
   notice is rendered for every locale and stored under its key (``notice:<case>:…``),
   already leased to this instance. One row per key, ever: job events repeat and
   several instances see them, and only the first to store the key sends it.
2. This instance sends it at once and records the outcome (``sent``, ``unreachable``),
   conditioned on still holding the lease.
3. A row left unsent (the instance died between 1 and 2, or the send failed) is taken by
   the periodic sweep (``sweep``, in the reminders' tick, one instance per period) once
   its lease has run out, and sent. A failed send backs off (30 s doubling to an hour)
   and is given up after ``NOTICE_GIVE_UP_AFTER`` tries (logged).

Never lost: the row is written before the send, and the facts that lead to it are swept
too (a job's end by ``Escalations.settle`` from the reminders' tick, before the case
moves on). Never doubled by two instances: the key is inserted once and each claim is a
conditional UPDATE (``FOR UPDATE SKIP LOCKED`` on PostgreSQL). The one duplicate window
left: the Bot Connector accepted the message and the process died before recording it
(a few milliseconds, one UPDATE); the sweep then sends it again after the lease.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from microsoft_agents.activity import Activity

from bot.domain.escalation import Decision
from bot.domain.incidents import Incident
from bot.domain.jobs import MAX_KEY_LENGTH, NOTICE_GIVE_UP_AFTER, OutboxMessage
from bot.domain.locale import Locale
from bot.domain.ports import JobQueue, Registry, Store
from bot.jobs.runner import default_worker_id
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
# How long a sender holds a notice it is sending: longer than any send takes (the Bot
# Connector answers in seconds), short enough that a dead sender's notice goes out soon.
NOTICE_LEASE = dt.timedelta(seconds=60)


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
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._registry = registry
        self._jobs = jobs
        self._messenger = messenger
        self._view = view  # the case as its card shows it (Escalations.view)
        self.owner = owner or default_worker_id()  # whose lease a notice being sent is
        self.lease = NOTICE_LEASE

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

    async def tell_staff_once(self, incident: Incident, key: str, **values: Any) -> None:
        """``tell_staff`` through the outbox: once per case and ``key``, never lost."""
        await self._offer(
            incident,
            f"notice:{incident.id}:{key}",
            lambda locale: text_card(t(key, locale, id=incident.id, **values)),
        )

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

        key = f"notice:{incident.id}:status:{signature}"
        if len(key) > MAX_KEY_LENGTH:  # many actions: the same news, a shorter name
            key = f"notice:{incident.id}:status#{hashlib.sha256(signature.encode()).hexdigest()}"
        await self._offer(incident, key, build)

    # --- the outbox

    async def _offer(
        self, incident: Incident, key: str, build: Callable[[Locale], dict[str, Any]]
    ) -> None:
        """Store the notice (rendered now, for every locale), then send it if ours."""
        message = OutboxMessage(
            key=key,
            incident_id=incident.id,
            recipient=incident.reporter.object_id,
            cards={locale.value: build(locale) for locale in Locale},
        )
        stored = await self._jobs.outbox_add(message, self.owner, self.lease)
        if stored is not None:  # else: told already, or being told by whoever stored it
            await self._deliver(stored)

    async def sweep(self) -> int:
        """Send the notices whose sender died or failed (their lease ran out); how many."""
        sent = 0
        for message in await self._jobs.outbox_claim(self.owner, self.lease):
            sent += await self._deliver(message)
        return sent

    async def _deliver(self, message: OutboxMessage) -> bool:
        """Send one notice this instance holds and record the outcome; True if sent."""
        record = await self._registry.get(USER, message.recipient)
        reference = (record or {}).get("reference")
        outcome = "unreachable"
        if reference:
            locale = Locale.from_tag(reference.get("locale"))
            card = message.cards.get(locale.value) or next(iter(message.cards.values()))
            try:
                await self._messenger.send(reference, card)
                outcome = "sent"
            except Exception as exc:  # the connector or network: try again later
                return await self._failed(message, exc)
        else:
            log.info("incident %s: reporter not reachable proactively", message.incident_id)
        if not await self._jobs.outbox_done(message.key, self.owner, outcome):
            # Our lease ran out during the send and another sweep took the notice.
            log.warning("notice of %s: lease lost while sending", message.incident_id)
        return outcome == "sent"

    async def _failed(self, message: OutboxMessage, exc: Exception) -> bool:
        if message.attempts >= NOTICE_GIVE_UP_AFTER:
            log.error(
                "notice of %s given up after %d tries: %s",
                message.incident_id,
                message.attempts,
                type(exc).__name__,
            )
            await self._jobs.outbox_done(message.key, self.owner, "failed")
            return False
        after = dt.timedelta(seconds=min(3600, 30 * 2 ** (message.attempts - 1)))
        log.warning(
            "notice of %s not sent (%s); next try in %d s",
            message.incident_id,
            type(exc).__name__,
            after.total_seconds(),
        )
        await self._jobs.outbox_retry(message.key, self.owner, after)
        return False


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
