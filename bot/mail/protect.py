"""Mail protection: the evidence folder, the inbox rule, and archiving the sender's existing mail.

The same use case serves ``mamoru mail protect`` and, later, a manager's
approval in Teams. Steps:

1. ensure ``Inbox/<evidence root>/<case id>``;
2. create or update the inbox rule first, so mail arriving during the run already
   goes to the evidence folder;
3. list the sender's messages across the mailbox, keeping only those whose sender
   is exactly the address, or exactly in the domain (``SenderSpec.matches``);
4. for each one not yet done: move it (unless already in the folder), fetch its
   MIME, hash it and record it in the evidence log, ``RECORD_BATCH`` mails per
   transaction (one per mail made the log's appends most of the database's load
   after an approval: five statements each).

Idempotent by immutable id: a re-run after an interruption skips what is done,
never moves a message that is already in the folder and never records twice (a mail
moved whose batch was not recorded yet is recorded by the re-run: it is in the folder
but not in the log).
Logs carry counts and ids only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.domain.mailbox import (
    Mailbox,
    MailboxError,
    MailboxNotFoundError,
    MailItem,
    SenderSpec,
    validate_case_id,
    validate_mailbox,
)
from bot.domain.ports import EmailEvidence, EmailEvidenceLog

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total)
RECORD_BATCH = 50  # mails recorded per evidence transaction
DEFAULT_EVIDENCE_ROOT = "カスハラ証拠保全"


def rule_name(case_id: str) -> str:
    """The inbox rule's display name for a case (how a re-run finds and updates it)."""
    return f"Mamoru 証拠保全 {case_id}"


def default_case_id(mailbox: str, sender: SenderSpec) -> str:
    """A stable case id when none is given, so a re-run continues the same case."""
    key = f"{mailbox.lower()}|{sender.kind}|{(sender.address or sender.domain or '').lower()}"
    return "MAIL-" + hashlib.sha256(key.encode()).hexdigest()[:10].upper()


def rule_scope(sender: SenderSpec) -> str:
    """What the inbox rule matches, in words (``mamoru mail protect`` prints it)."""
    if sender.address:
        return (
            f"mail whose sender address is exactly {sender.address} (moved, marked read) / "
            f"差出人アドレスが {sender.address} と完全一致するメール（移動し既読にする）"
        )
    return (
        f"mail whose sender's domain is exactly {sender.domain}, not longer domains such as "
        f"{sender.domain}.jp nor subdomains (moved, left unread) / "
        f"差出人のドメインがちょうど {sender.domain} のメールだけ（{sender.domain}.jp などの"
        "別ドメインやサブドメインは対象外。移動のみで既読にはしない）"
    )


@dataclass(frozen=True, slots=True)
class ProtectionRequest:
    """What to protect: a mailbox, whose mail, under which case."""

    mailbox: str
    sender: SenderSpec
    case_id: str


@dataclass(slots=True)
class ProtectionResult:
    """What a run did (counts only)."""

    case_id: str
    folder_id: str = ""
    found: int = 0
    moved: int = 0
    recorded: int = 0
    already_done: int = 0
    vanished: list[str] = field(default_factory=list)  # ids deleted by the user mid-run
    other_senders: int = 0  # listed by the mail service but not this sender's: left alone

    @property
    def complete(self) -> bool:
        """Whether every message found is now archived and recorded."""
        return self.already_done + self.recorded + len(self.vanished) == self.found


async def protect_mailbox(
    mailbox: Mailbox,
    evidence: EmailEvidenceLog,
    request: ProtectionRequest,
    *,
    progress: Progress | None = None,
    concurrency: int = 4,
    evidence_root: str = DEFAULT_EVIDENCE_ROOT,
    record_batch: int = RECORD_BATCH,
) -> ProtectionResult:
    """Protect one mailbox against one sender; safe to re-run after any interruption.

    ``record_batch``: mails recorded in the evidence log per transaction."""
    upn = validate_mailbox(request.mailbox)
    case_id = validate_case_id(request.case_id)
    result = ProtectionResult(case_id)
    folder = await mailbox.ensure_folder(upn, [evidence_root, case_id])
    result.folder_id = folder.id
    await mailbox.ensure_rule(upn, rule_name(case_id), request.sender, folder.id)
    listed = await mailbox.messages_from(upn, request.sender)
    # Checked here again, whatever the mail service's filter did: mail of another domain
    # (example.com for example.co) is never moved into the evidence folder.
    items = [m for m in listed if request.sender.matches(m.sender)]
    result.other_senders = len(listed) - len(items)
    recorded = await evidence.recorded_email_ids(case_id)
    result.found = len(items)
    todo = [m for m in items if not (m.id in recorded and m.folder_id == folder.id)]
    result.already_done = result.found - len(todo)
    log.info("protect case=%s found=%d todo=%d", case_id, result.found, len(todo))
    done = result.already_done
    if progress:
        progress(done, result.found)

    queue: asyncio.Queue[MailItem] = asyncio.Queue()
    for item in todo:
        queue.put_nowait(item)
    pending: list[tuple[EmailEvidence, bytes]] = []  # moved and hashed, not yet recorded
    recording = asyncio.Lock()  # one batch at a time: the log's order is the batches'

    async def record_pending() -> None:
        async with recording:
            batch = pending[:]
            pending.clear()
            if batch:
                await evidence.record_emails(case_id, batch)
                result.recorded += len(batch)

    async def archive(item: MailItem) -> None:
        if item.folder_id != folder.id:
            await mailbox.move(upn, item.id, folder.id)
            result.moved += 1
        if item.id not in recorded:
            eml = await mailbox.mime(upn, item.id)
            found = EmailEvidence(
                immutable_id=item.id,
                internet_message_id=item.internet_message_id,
                received_at=item.received_at,
                sender=item.sender,
                subject=item.subject,
                mime_sha256=hashlib.sha256(eml).hexdigest(),
                mailbox=upn,
            )
            pending.append((found, eml))
            if len(pending) >= record_batch:
                await record_pending()
        else:
            result.already_done += 1  # recorded before, only its move was missing

    async def worker() -> None:
        nonlocal done
        while not queue.empty():
            item = queue.get_nowait()
            try:
                await archive(item)
            except MailboxNotFoundError:
                raise
            except MailboxError as exc:
                if exc.code not in {"ErrorItemNotFound", "ResourceNotFound"}:
                    raise
                result.vanished.append(item.id)  # deleted by its owner meanwhile: nothing to keep
            done += 1
            if progress:
                progress(done, result.found)

    # Workers stop at the first error (the TaskGroup cancels the others); a re-run resumes.
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, len(todo)))):
                group.create_task(worker())
    except BaseExceptionGroup as group_error:
        raise _first_leaf(group_error) from None
    await record_pending()  # the last, partial batch
    log.info(
        "protect case=%s moved=%d recorded=%d vanished=%d",
        case_id,
        result.moved,
        result.recorded,
        len(result.vanished),
    )
    return result


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real error inside (possibly nested) exception groups."""
    first: BaseException = group.exceptions[0]
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first
