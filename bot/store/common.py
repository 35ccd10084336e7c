"""What the SQL store and the in-memory fake share: the mail-protection evidence log.

Both implement ``EmailEvidenceLog`` on top of their own ``append_evidence``, so the
idempotency and the blob-before-row order are written once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from bot.domain.errors import InvalidEvidence
from bot.domain.evidence import ChainHead, EmailItem, EvidenceItem, SealedEntry
from bot.domain.incidents import Counterparts, IncidentDraft, Person
from bot.domain.ports import BlobStore, EmailEvidence

# Who recorded mail archived by the job runner or `mamoru mail protect`.
MAIL_PROTECTION = Person("system:mail-protection", "Mamoru mail protection")


def scoped_key(draft: IncidentDraft, key: str) -> str:
    """The idempotency key as stored: prefixed with the reporter's object id."""
    return f"{draft.reporter.object_id}:{key}"


def counterparts_json(value: Counterparts) -> str:
    """The counterparts as a JSON object (stored in one column)."""
    return json.dumps(
        {
            "emails": list(value.emails),
            "domains": list(value.domains),
            "sns_accounts": list(value.sns_accounts),
            "urls": list(value.urls),
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def counterparts_from_json(text: str) -> Counterparts:
    """The inverse of ``counterparts_json``."""
    data: dict[str, Any] = json.loads(text)
    return Counterparts(
        emails=tuple(data.get("emails", ())),
        domains=tuple(data.get("domains", ())),
        sns_accounts=tuple(data.get("sns_accounts", ())),
        urls=tuple(data.get("urls", ())),
    )


class EmailLogMixin:
    """``EmailEvidenceLog`` for any store with ``append_evidence`` and a blob store."""

    _blobs: BlobStore

    async def append_evidence(
        self, case_id: str, item: EvidenceItem, *, recorded_by: Person
    ) -> SealedEntry:
        """Provided by the store."""
        raise NotImplementedError

    async def append_many(
        self, case_id: str, items: Sequence[EvidenceItem], *, recorded_by: Person
    ) -> list[SealedEntry]:
        """Provided by the store."""
        raise NotImplementedError

    async def evidence_head(self, case_id: str) -> ChainHead:
        """Provided by the store."""
        raise NotImplementedError

    async def _email_keys(self, case_id: str) -> set[str]:
        raise NotImplementedError

    async def recorded_email_ids(self, case_id: str) -> set[str]:
        """Immutable ids of the emails already recorded for ``case_id``."""
        await self.evidence_head(case_id)  # raises IncidentNotFound for an unknown case
        return await self._email_keys(case_id)

    async def record_email(self, case_id: str, item: EmailEvidence, eml: bytes) -> None:
        """Store the .eml, then append the email (a second call for the same mail is a no-op)."""
        _check_mime(item, eml)
        # Blob first: a row must never point at a missing file; an orphan blob is harmless.
        await self._blobs.put(eml)
        await self.append_evidence(case_id, _email_item(item), recorded_by=MAIL_PROTECTION)

    async def record_emails(
        self, case_id: str, batch: Sequence[tuple[EmailEvidence, bytes]]
    ) -> list[SealedEntry]:
        """``record_email`` for a page of mail: files first, then one transaction for all."""
        for item, eml in batch:
            _check_mime(item, eml)
        for i in range(0, len(batch), _PARALLEL_PUTS):
            # A few uploads at once: each put waits on its own fsync (or HTTP round trip).
            await asyncio.gather(
                *(self._blobs.put(eml) for _, eml in batch[i : i + _PARALLEL_PUTS])
            )
        items = [_email_item(item) for item, _ in batch]
        return await self.append_many(case_id, items, recorded_by=MAIL_PROTECTION)


_PARALLEL_PUTS = 8


def _check_mime(item: EmailEvidence, eml: bytes) -> None:
    if hashlib.sha256(eml).hexdigest() != item.mime_sha256:
        raise InvalidEvidence("mime_sha256 does not match the .eml bytes")


def _email_item(item: EmailEvidence) -> EmailItem:
    return EmailItem(
        immutable_id=item.immutable_id,
        internet_message_id=item.internet_message_id,
        received_at=item.received_at,
        sender=item.sender,
        subject=item.subject,
        mime_sha256=item.mime_sha256,
        mailbox=item.mailbox,
    )
