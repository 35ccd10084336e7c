"""Chain-head anchors: each case's head copied to write-once storage outside the database.

The hash chain proves that no entry was changed *inside* the chain, but whoever owns
the database can delete the last entries and lower ``evidence_heads`` to match: the
shorter chain still verifies. An anchor is a small JSON document (case, entry count,
hash, time) written where the database owner cannot rewrite it: the immutable (WORM)
Azure Blob container in Azure, read-only files next to the blobs locally. ``mamoru
evidence verify`` compares the database with the latest anchor (``anchor_problem``).

Anchors are written periodically (``anchor_all``, under the periodic-work lease in
bot/app.py), after an export, and by
``mamoru evidence anchor``. A head that is *behind* its latest anchor is never anchored:
that is the tampering the anchor exists to reveal, and it is logged as an error.

Names sort newest first (``anchors/<case>/<10^12 - count>.json``) so the latest anchor
of a case is the first name listed, in Blob Storage as on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bot.domain.errors import InvalidEvidence
from bot.domain.evidence import ChainAnchor, ChainHead
from bot.domain.ports import AnchorStore, ChainHeads, Clock

log = logging.getLogger(__name__)
ANCHOR_PREFIX = "anchors/"
_COUNT_SPAN = 10**12  # more entries than any case will ever have
_SAFE_CASE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def anchor_folder(case_id: str) -> str:
    """The case's folder under ``anchors/`` (its id, or a hash of an unusual one)."""
    if _SAFE_CASE.match(case_id):
        return case_id
    return "x-" + hashlib.sha256(case_id.encode()).hexdigest()[:32]


def anchor_name(anchor: ChainAnchor) -> str:
    """The anchor's name relative to ``anchors/``: newest (highest count) sorts first."""
    return f"{anchor_folder(anchor.case_id)}/{_COUNT_SPAN - anchor.head.count:012d}.json"


class LocalAnchorStore:
    """``AnchorStore`` in a local directory: read-only files, never replaced.

    Local files are not WORM storage (root can change them), but they live outside the
    database: deleting database rows no longer goes unnoticed in the default setup.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _put(self, anchor: ChainAnchor) -> None:
        target = self.root / anchor_name(anchor)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(anchor.to_json())
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o444)
            with contextlib.suppress(FileExistsError):  # write-once: the first one stays
                os.link(tmp, target)
        finally:
            os.unlink(tmp)

    async def put_anchor(self, anchor: ChainAnchor) -> None:
        """Write the anchor file (an existing one with the same count is kept)."""
        await asyncio.to_thread(self._put, anchor)

    def _latest(self, case_id: str) -> ChainAnchor | None:
        folder = self.root / anchor_folder(case_id)
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        except FileNotFoundError:
            return None
        for name in names:
            try:
                return ChainAnchor.from_json((folder / name).read_bytes())
            except InvalidEvidence:
                log.error("anchor file %s/%s is unreadable", folder.name, name)
        return None

    async def latest_anchor(self, case_id: str) -> ChainAnchor | None:
        """The case's anchor with the highest count, or None."""
        return await asyncio.to_thread(self._latest, case_id)


@dataclass(slots=True)
class AnchorRun:
    """What one anchoring pass did (counts and case ids only)."""

    written: int = 0
    unchanged: int = 0
    behind: list[str] = field(default_factory=list)  # cases whose database is behind an anchor


class Anchoring:
    """Copies changed chain heads to the anchor store."""

    def __init__(self, heads: ChainHeads, anchors: AnchorStore, clock: Clock) -> None:
        self._heads = heads
        self._anchors = anchors
        self._clock = clock
        self._anchored: dict[str, ChainHead] = {}  # this process's last known anchors

    async def anchor_head(self, case_id: str, head: ChainHead, run: AnchorRun) -> None:
        """Anchor ``head`` unless the latest anchor already has it (or is ahead of it)."""
        if self._anchored.get(case_id) == head:
            run.unchanged += 1
            return
        latest = await self._anchors.latest_anchor(case_id)
        if latest is not None and (
            latest.head.count > head.count
            or (latest.head.count == head.count and latest.head.hash != head.hash)
        ):
            # Never bless a database that lost entries: verify must keep seeing it.
            log.error(
                "evidence of case %s is behind its anchor (entry %d anchored, %d in the "
                "database): run `mamoru evidence verify %s`",
                case_id,
                latest.head.count,
                head.count,
                case_id,
            )
            run.behind.append(case_id)
            return
        if latest is None or latest.head != head:
            await self._anchors.put_anchor(ChainAnchor(case_id, head, self._clock.now()))
            run.written += 1
        else:
            run.unchanged += 1
        self._anchored[case_id] = head

    async def anchor_case(self, case_id: str) -> AnchorRun:
        """Anchor one case's head now (after an export, or from the CLI)."""
        run = AnchorRun()
        head = await self._heads.evidence_head(case_id)
        if head.count:
            await self.anchor_head(case_id, head, run)
        return run

    async def anchor_all(self) -> AnchorRun:
        """One pass over every case's head."""
        run = AnchorRun()
        async for case_id, head in self._heads.chain_heads():
            await self.anchor_head(case_id, head, run)
        if run.written or run.behind:
            log.info(
                "anchors: %d written, %d unchanged, %d behind",
                run.written,
                run.unchanged,
                len(run.behind),
            )
        return run
