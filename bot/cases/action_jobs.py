"""Job handlers for approved actions: mail protection and the organisation's one-time mails.

Both are written to be run again after a crash: mail protection is idempotent
(it skips what is already archived and recorded); a mail is sent at most once
per case and action, guarded by a marker taken before the send.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from bot.cases.escalation import MAMORU
from bot.cases.staff_notices import USER
from bot.domain.errors import PermanentJobError, RetryableJobError
from bot.domain.escalation import ActionKind
from bot.domain.evidence import NoteItem
from bot.domain.incidents import Incident
from bot.domain.jobs import Job
from bot.domain.mailbox import MailboxError, SenderSpec, protection_target
from bot.domain.ports import Registry, Store
from bot.jobs.runner import JobContext
from bot.mail.protect import Mailbox, ProtectionRequest, protect_mailbox

log = logging.getLogger(__name__)
PROGRESS_EVERY_SECONDS = 2.0


class MailSender(Protocol):
    """Sends one mail from a mailbox (the department's) to one address."""

    async def send_mail(self, mailbox: str, to: str, subject: str, body: str) -> None:
        """Send; raises ``MailboxError`` if it cannot (never retried blindly by callers)."""
        ...


class ActionJobs:
    """The handlers of the ``mail-protection`` and ``org-mail`` jobs."""

    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        mailbox: Mailbox,
        sender: MailSender,
        department_mailbox: str,
    ) -> None:
        self._store = store
        self._registry = registry
        self._mailbox = mailbox
        self._sender = sender
        self._department_mailbox = department_mailbox

    async def mail_protection(self, job: Job, context: JobContext) -> None:
        """Evidence folder + rule + archive every existing mail of the counterpart."""
        incident = await self._store.load_incident(job.incident_id)
        request = ProtectionRequest(
            mailbox=await self._mailbox_of(incident),
            sender=_sender_of(incident),
            case_id=incident.id,
        )
        latest = (0, 0)

        def progress(done: int, total: int) -> None:
            nonlocal latest
            latest = (done, total)

        task = asyncio.create_task(
            protect_mailbox(self._mailbox, self._store, request, progress=progress)
        )
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=PROGRESS_EVERY_SECONDS)
                await context.progress(*latest)
            # Mail errors go to the runner as they are: bot.jobs.faults decides whether the
            # job waits (throttling, a permission still propagating) or fails.
            result = task.result()
        finally:
            task.cancel()
        await context.progress(result.found, result.found, {"folder_id": result.folder_id})
        if not result.complete:
            raise RetryableJobError("incomplete")
        log.info("incident %s: %d mails archived", incident.id, result.found)

    async def org_mail(self, job: Job, context: JobContext) -> None:
        """Send the previewed mail once from the department mailbox; record it as evidence.

        The job carries From, To, Subject and Body exactly as the manager confirmed them
        (bot/cases/drafts.py); nothing is recomposed here.
        """
        incident = await self._store.load_incident(job.incident_id)
        kind = ActionKind(job.params["action"])
        sender = str(job.params.get("from") or "")
        to = str(job.params.get("to") or "")
        subject = str(job.params.get("subject") or "")
        body = str(job.params.get("body") or "")
        if not (to and subject and body):
            raise PermanentJobError("not-previewed")  # only a confirmed preview is sent
        if not sender or sender.lower() != self._department_mailbox.lower():
            raise PermanentJobError("no-department-mailbox" if not sender else "sender-changed")
        # Marked BEFORE sending: a crash after this point never sends a second mail.
        if not await context.mark_once(f"org-mail:{incident.id}:{kind.value}"):
            log.info("incident %s: %s already sent or attempted", incident.id, kind.value)
            return
        try:
            await self._sender.send_mail(sender, to, subject, body)
        except MailboxError as exc:
            # Whether Graph sent it is unknown: a person checks Sent Items rather than a retry.
            raise PermanentJobError(f"send-uncertain:{exc.code or type(exc).__name__}") from None
        await self._store.append_evidence(
            incident.id,
            NoteItem(text=f"{kind.value} sent from {sender} to {to}:\n{subject}\n{body}"),
            recorded_by=MAMORU,
        )
        await context.progress(1, 1)

    async def _mailbox_of(self, incident: Incident) -> str:
        target = incident.targets[0] if incident.targets else incident.reporter
        record = await self._registry.get(USER, target.object_id) or {}
        # Graph addresses a mailbox by UPN or by Entra object id; prefer the UPN when known.
        return str(record.get("upn") or target.object_id)


def _sender_of(incident: Incident) -> SenderSpec:
    counterparts = incident.counterparts
    if not (counterparts.emails or counterparts.domains):
        raise PermanentJobError("no-counterpart-address")
    target = protection_target(counterparts.emails, counterparts.domains)
    if target is None:
        raise PermanentJobError("invalid-counterpart")
    return target
