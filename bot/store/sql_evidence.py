"""The evidence half of ``SqlStore``: append-only, hash-chained, one chain per case.

There is no UPDATE or DELETE of ``evidence`` rows here (the database refuses them too,
by trigger). The per-case head row is the lock that orders concurrent appenders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.errors import IncidentNotFound
from bot.domain.evidence import ChainHead, EvidenceItem, SealedEntry, dedup_key, seal
from bot.domain.incidents import Person
from bot.domain.ports import Clock
from bot.store.engine import Engines
from bot.store.tables import evidence, evidence_heads

_KEYS_PER_QUERY = 500  # keeps IN (...) lists well under every driver's parameter limit


def _sealed(row: Row[Any]) -> SealedEntry:
    return SealedEntry(
        case_id=row.case_id,
        seq=row.seq,
        kind=row.kind,
        entry=row.entry,
        prev_hash=row.prev_hash,
        hash=row.hash,
        dedup_key=row.dedup_key,
    )


class SqlEvidenceMixin:
    """Evidence methods of ``SqlStore`` (which provides the engines, clock and ``_tx``)."""

    _engines: Engines
    _clock: Clock
    _tx: Callable[[], AbstractAsyncContextManager[AsyncConnection]]

    async def append_evidence(
        self, case_id: str, item: EvidenceItem, *, recorded_by: Person
    ) -> SealedEntry:
        """Chain ``item`` after the case's head (an already recorded email is returned)."""
        async with self._tx() as conn:
            return await self._append(conn, case_id, item, recorded_by, self._clock.now())

    async def append_many(
        self, case_id: str, items: Sequence[EvidenceItem], *, recorded_by: Person
    ) -> list[SealedEntry]:
        """Chain ``items`` in order, all or none, in one transaction (one commit per batch)."""
        async with self._tx() as conn:
            return await self._append_batch(conn, case_id, items, recorded_by, self._clock.now())

    async def _append(
        self,
        conn: AsyncConnection,
        case_id: str,
        item: EvidenceItem,
        recorded_by: Person,
        at: dt.datetime,
    ) -> SealedEntry:
        return (await self._append_batch(conn, case_id, [item], recorded_by, at))[0]

    async def _append_batch(
        self,
        conn: AsyncConnection,
        case_id: str,
        items: Sequence[EvidenceItem],
        recorded_by: Person,
        at: dt.datetime,
    ) -> list[SealedEntry]:
        # The head row is the per-case lock: concurrent appenders queue here (PostgreSQL
        # FOR UPDATE; on SQLite the whole write transaction is already exclusive).
        head = (
            await conn.execute(
                select(evidence_heads).where(evidence_heads.c.case_id == case_id).with_for_update()
            )
        ).one_or_none()
        if head is None:
            raise IncidentNotFound(case_id)
        known = await self._existing(conn, case_id, [k for i in items if (k := dedup_key(i))])
        # Via _mapping: a Row is a Sequence, so `.count` could mean the method.
        count, prev = int(head._mapping["count"]), str(head._mapping["hash"])
        out: list[SealedEntry] = []
        rows: list[dict[str, Any]] = []
        for item in items:
            key = dedup_key(item)
            if key is not None and key in known:
                out.append(known[key])  # idempotent: recorded before (or earlier in this batch)
                continue
            entry = seal(
                case_id=case_id,
                seq=count + 1,
                prev_hash=prev,
                recorded_at=at,
                recorded_by=recorded_by,
                item=item,
            )
            rows.append(
                {
                    "case_id": case_id,
                    "seq": entry.seq,
                    "kind": entry.kind,
                    "dedup_key": entry.dedup_key,
                    "entry": entry.entry,
                    "prev_hash": entry.prev_hash,
                    "hash": entry.hash,
                }
            )
            out.append(entry)
            count, prev = entry.seq, entry.hash
            if key is not None:
                known[key] = entry
        if rows:
            await conn.execute(insert(evidence), rows)
            await conn.execute(
                update(evidence_heads)
                .where(evidence_heads.c.case_id == case_id)
                .values(count=count, hash=prev)
            )
        return out

    async def _existing(
        self, conn: AsyncConnection, case_id: str, keys: list[str]
    ) -> dict[str, SealedEntry]:
        found: dict[str, SealedEntry] = {}
        for i in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = keys[i : i + _KEYS_PER_QUERY]
            query = select(evidence).where(
                evidence.c.case_id == case_id, evidence.c.dedup_key.in_(chunk)
            )
            result = await conn.execute(query)
            found.update((row.dedup_key, _sealed(row)) for row in result)
        return found

    async def iter_evidence(
        self, case_id: str, *, upto: int | None = None
    ) -> AsyncIterator[SealedEntry]:
        """The case's entries in chain order (up to ``upto``), streamed from a cursor."""
        query = select(evidence).where(evidence.c.case_id == case_id).order_by(evidence.c.seq)
        if upto is not None:
            query = query.where(evidence.c.seq <= upto)
        async with self._engines.read.connect() as conn:
            result = await conn.stream(query.execution_options(yield_per=1000))
            async for row in result:
                yield _sealed(row)

    async def evidence_head(self, case_id: str) -> ChainHead:
        """The recorded head of the case's chain; raises ``IncidentNotFound``."""
        async with self._engines.read.connect() as conn:
            query = select(evidence_heads).where(evidence_heads.c.case_id == case_id)
            row = (await conn.execute(query)).one_or_none()
        if row is None:
            raise IncidentNotFound(case_id)
        return ChainHead(int(row._mapping["count"]), str(row._mapping["hash"]))

    async def chain_heads(self) -> AsyncIterator[tuple[str, ChainHead]]:
        """``(case id, head)`` of every case with entries (what anchoring copies out)."""
        query = (
            select(evidence_heads)
            .where(evidence_heads.c.count > 0)
            .order_by(evidence_heads.c.case_id)
            .execution_options(yield_per=1000)
        )
        async with self._engines.read.connect() as conn:
            result = await conn.stream(query)
            async for row in result:
                yield row.case_id, ChainHead(int(row._mapping["count"]), str(row._mapping["hash"]))

    async def _email_keys(self, case_id: str) -> set[str]:
        async with self._engines.read.connect() as conn:
            result = await conn.execute(
                select(evidence.c.dedup_key).where(
                    evidence.c.case_id == case_id, evidence.c.dedup_key.is_not(None)
                )
            )
            return {k for (k,) in result}
