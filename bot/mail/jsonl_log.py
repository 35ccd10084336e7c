"""``EmailEvidenceLog`` as files: one JSON Lines log per case plus the original .eml files.

A stand-in until the incident store records email evidence. Layout under the data dir::

    mail-evidence/<case>/log.jsonl          one line per archived message
    mail-evidence/<case>/eml/<sha256>.eml   the original bytes, named by their hash

Recording is idempotent by immutable id; the .eml is written (atomically) before
its log line, and a line cut short by a crash is dropped on the next open, so an
interrupted run re-records that message rather than losing it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.domain.ports import EmailEvidence

_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def case_dir_name(case_id: str) -> str:
    """A safe directory name for a case id (plain ids as-is, others hashed)."""
    if _PLAIN.match(case_id):
        return case_id
    return "case-" + hashlib.sha256(case_id.encode()).hexdigest()[:16]


class JsonlEmailEvidenceLog:
    """Per-case JSON Lines evidence log with .eml files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._ids: dict[str, set[str]] = {}
        self._lock = asyncio.Lock()

    def case_dir(self, case_id: str) -> Path:
        """The directory holding a case's log and .eml files."""
        return self.root / "mail-evidence" / case_dir_name(case_id)

    def _load(self, case_id: str) -> set[str]:
        if case_id in self._ids:
            return self._ids[case_id]
        log = self.case_dir(case_id) / "log.jsonl"
        ids: set[str] = set()
        if log.exists():
            data = log.read_bytes()
            if data and not data.endswith(b"\n"):
                # A crash cut the last line short: drop it; that message is recorded again.
                data = data[: data.rfind(b"\n") + 1]
                with log.open("r+b") as fh:
                    fh.truncate(len(data))
            for line in data.splitlines():
                if line.strip():
                    ids.add(json.loads(line)["immutable_id"])
        self._ids[case_id] = ids
        return ids

    async def recorded_email_ids(self, case_id: str) -> set[str]:
        """Immutable ids already recorded for the case."""
        async with self._lock:
            return set(await asyncio.to_thread(self._load, case_id))

    async def record_email(self, case_id: str, item: EmailEvidence, eml: bytes) -> None:
        """Append one message (no-op if its immutable id is already recorded)."""
        if hashlib.sha256(eml).hexdigest() != item.mime_sha256:
            raise ValueError("mime_sha256 does not match the .eml bytes")
        async with self._lock:  # one writer per log: lines never interleave
            ids = await asyncio.to_thread(self._load, case_id)
            if item.immutable_id in ids:
                return
            # A cancelled caller must not leave a write half-known: finish it, then give up.
            write = asyncio.ensure_future(asyncio.to_thread(self._write, case_id, item, eml))
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:
                await write
                raise

    async def record_emails(
        self, case_id: str, batch: Sequence[tuple[EmailEvidence, bytes]]
    ) -> list[EmailEvidence]:
        """``record_email`` for each mail of ``batch``, in order; the mails."""
        for item, eml in batch:
            await self.record_email(case_id, item, eml)
        return [item for item, _ in batch]

    def _write(self, case_id: str, item: EmailEvidence, eml: bytes) -> None:
        folder = self.case_dir(case_id)
        (folder / "eml").mkdir(parents=True, exist_ok=True)
        meta = folder / "case.json"
        if not meta.exists():
            meta.write_text(json.dumps({"case_id": case_id}, ensure_ascii=False) + "\n", "utf-8")
        target = folder / "eml" / f"{item.mime_sha256}.eml"
        if not target.exists():
            tmp = target.with_suffix(".tmp")
            with tmp.open("wb") as fh:
                fh.write(eml)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(target)
        line: dict[str, Any] = {
            "immutable_id": item.immutable_id,
            "internet_message_id": item.internet_message_id,
            "received_at": item.received_at.isoformat(),
            "sender": item.sender,
            "subject": item.subject,
            "mime_sha256": item.mime_sha256,
            "mailbox": item.mailbox,
            "eml": f"eml/{item.mime_sha256}.eml",
        }
        with (folder / "log.jsonl").open("ab") as fh:
            fh.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._ids[case_id].add(item.immutable_id)  # here, so it holds even if the caller is gone

    def entries(self, case_id: str) -> list[dict[str, Any]]:
        """All recorded lines of a case (for reports and tests)."""
        log = self.case_dir(case_id) / "log.jsonl"
        if not log.exists():
            return []
        return [json.loads(x) for x in log.read_text("utf-8").splitlines() if x.strip()]
