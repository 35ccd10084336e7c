"""Organisational cases (``OrgCaseRepository`` port): the ``org_cases`` tables, on ``SqlStore``.

A merge or a removal is one unit of work: the membership rows and the note appended to
every member's evidence chain commit together, or not at all. Membership rows are never
deleted (taking a case out sets ``left_at``); evidence is only appended. Merging two
organisational cases moves every member of the emptied one (its rows marked left, new rows
in the other) and records where they went in ``org_case_merges``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.errors import IncidentNotFound
from bot.domain.evidence import EvidenceItem, NoteItem, SealedEntry
from bot.domain.incidents import Incident, Person
from bot.domain.org_cases import (
    MemberElsewhere,
    Membership,
    MergedInto,
    OrgCase,
    OrgCaseChanged,
    OrgCaseNotFound,
    merged_note,
    new_org_case_id,
    org_merged_note,
    removed_note,
    survivor,
)
from bot.domain.ports import Clock
from bot.store.engine import Engines
from bot.store.job_rows import utc
from bot.store.tables import evidence_heads, org_case_members, org_case_merges, org_cases

_ACTIVE = org_case_members.c.left_at.is_(None)


def _membership(row: Row[Any]) -> Membership:
    return Membership(
        incident_id=row.incident_id,
        joined_at=utc(row.joined_at),
        joined_by=Person(row.joined_by_id, row.joined_by_name),
        left_at=utc(row.left_at) if row.left_at is not None else None,
        left_by=Person(row.left_by_id, row.left_by_name) if row.left_at is not None else None,
    )


def _joining_rows(
    org_id: str, case_ids: Sequence[str], by: Person, now: dt.datetime
) -> list[dict[str, Any]]:
    """Membership rows for cases joining ``org_id`` now (a merge of cases or of two org cases)."""
    return [
        {
            "org_id": org_id,
            "incident_id": case_id,
            "joined_at": now,
            "joined_by_id": by.object_id,
            "joined_by_name": by.display_name,
            "left_at": None,
            "left_by_id": "",
            "left_by_name": "",
        }
        for case_id in case_ids
    ]


class SqlOrgCasesMixin:
    """Organisational-case methods of ``SqlStore`` (which provides ``_tx`` and the chain)."""

    _engines: Engines
    _clock: Clock
    _tx: Callable[[], AbstractAsyncContextManager[AsyncConnection]]
    _append_batch: Callable[..., Any]

    async def org_cases_of(self, incident_ids: Sequence[str]) -> dict[str, str]:
        """The organisational case each of ``incident_ids`` is a member of now (if any)."""
        if not incident_ids:
            return {}
        query = select(org_case_members.c.incident_id, org_case_members.c.org_id).where(
            _ACTIVE, org_case_members.c.incident_id.in_(list(incident_ids))
        )
        async with self._engines.read.connect() as conn:
            return {incident: org for incident, org in await conn.execute(query)}

    async def get_org_case(self, org_id: str) -> OrgCase:
        """The organisational case with its membership history; ``OrgCaseNotFound``."""
        async with self._engines.read.connect() as conn:
            return await self._org(conn, org_id)

    async def _org(self, conn: AsyncConnection, org_id: str) -> OrgCase:
        row = (await conn.execute(select(org_cases).where(org_cases.c.id == org_id))).one_or_none()
        if row is None:
            raise OrgCaseNotFound(org_id)
        members = await conn.execute(
            select(org_case_members)
            .where(org_case_members.c.org_id == org_id)
            .order_by(org_case_members.c.id)
        )
        merged = (
            await conn.execute(select(org_case_merges).where(org_case_merges.c.from_org == org_id))
        ).one_or_none()
        return OrgCase(
            id=row.id,
            created_at=utc(row.created_at),
            created_by=Person(row.created_by_id, row.created_by_name),
            memberships=tuple(_membership(m) for m in members),
            merged_into=None
            if merged is None
            else MergedInto(
                org_id=merged.into_org,
                at=utc(merged.at),
                by=Person(merged.by_id, merged.by_name),
                moved=tuple(c for c in merged.moved.split(",") if c),
            ),
        )

    async def _lock_chains(self, conn: AsyncConnection, incident_ids: Sequence[str]) -> None:
        # The chains' head rows, in a fixed order: concurrent merges of overlapping cases
        # queue here (PostgreSQL; SQLite's write transaction is already exclusive).
        wanted = sorted(set(incident_ids))
        rows = await conn.execute(
            select(evidence_heads.c.case_id)
            .where(evidence_heads.c.case_id.in_(wanted))
            .order_by(evidence_heads.c.case_id)
            .with_for_update()
        )
        missing = set(wanted) - {case_id for (case_id,) in rows}
        if missing:
            raise IncidentNotFound(sorted(missing)[0])

    async def _note_all(
        self, conn: AsyncConnection, case_ids: Sequence[str], text: str, by: Person
    ) -> None:
        now = self._clock.now()
        note: list[EvidenceItem] = [NoteItem(text=text)]
        for case_id in case_ids:
            entries: list[SealedEntry] = await self._append_batch(conn, case_id, note, by, now)
            assert entries

    async def merge_cases(self, into: str, cases: Sequence[Incident], *, by: Person) -> OrgCase:
        """Make ``cases`` members of ``into`` ("" for a new organisational case named after
        the oldest of them), and note it in every member's chain; all or nothing.

        Cases already members are left as they are (a repeated click changes nothing);
        a case that is a member of another organisational case raises ``MemberElsewhere``.
        """
        ids = [c.id for c in cases]
        now = self._clock.now()
        async with self._tx() as conn:
            await self._lock_chains(conn, ids)
            current = await conn.execute(
                select(org_case_members.c.incident_id, org_case_members.c.org_id).where(
                    _ACTIVE, org_case_members.c.incident_id.in_(ids)
                )
            )
            member_of = {incident: org for incident, org in current}
            for case_id, org in member_of.items():
                if org != into:
                    raise MemberElsewhere(case_id, org)
            if into:
                org = await self._org(conn, into)
            else:
                oldest = min(cases, key=lambda c: (c.created_at, c.id))
                taken = await conn.execute(
                    select(org_cases.c.id).where(org_cases.c.id.like(f"ORG-{oldest.id}%"))
                )
                into = new_org_case_id(oldest, taken.scalars())
                await conn.execute(
                    insert(org_cases).values(
                        id=into,
                        created_at=now,
                        created_by_id=by.object_id,
                        created_by_name=by.display_name,
                    )
                )
                org = OrgCase(into, now, by)
            joining = [case_id for case_id in ids if case_id not in member_of]
            if not joining:
                return org
            await conn.execute(
                insert(org_case_members),
                _joining_rows(into, joining, by, now),
            )
            org = await self._org(conn, into)
            await self._lock_chains(conn, org.members)
            await self._note_all(conn, org.members, merged_note(into, org.members, joining), by)
        return org

    async def remove_from_org_case(self, org_id: str, incident_id: str, *, by: Person) -> OrgCase:
        """Take ``incident_id`` out of ``org_id`` (its row stays, with who and when) and note
        it in its chain and the remaining members'; a case not a member changes nothing."""
        async with self._tx() as conn:
            org = await self._org(conn, org_id)
            if incident_id not in org.members:
                return org
            await self._lock_chains(conn, org.members)
            # Under the locks: a concurrent removal of the same member has marked its row.
            marked = await conn.execute(
                update(org_case_members)
                .where(
                    _ACTIVE,
                    org_case_members.c.org_id == org_id,
                    org_case_members.c.incident_id == incident_id,
                )
                .values(
                    left_at=self._clock.now(),
                    left_by_id=by.object_id,
                    left_by_name=by.display_name,
                )
            )
            if marked.rowcount == 0:
                return await self._org(conn, org_id)
            org = await self._org(conn, org_id)
            text = removed_note(org_id, org.members, incident_id)
            await self._note_all(conn, [incident_id, *org.members], text, by)
        return org

    async def merge_org_cases(
        self, first: str, second: str, confirmed: Sequence[str], *, by: Person
    ) -> OrgCase:
        """Move every member of the younger of ``first`` and ``second`` into the older, note
        it in every member's chain and record where they went; all or nothing.

        ``confirmed``: the members of both the confirmation showed. If they are not exactly
        the members now, ``OrgCaseChanged`` and nothing is written; if the merge was done
        already (a repeated click, or a concurrent one), the merged case, unchanged.
        """
        async with self._tx() as conn:
            # The chains first, in one order: concurrent merges of overlapping cases queue.
            await self._lock_chains(conn, confirmed)
            into, absorbed = survivor(await self._org(conn, first), await self._org(conn, second))
            if into.id == absorbed.id:
                raise OrgCaseChanged(into.id)
            if absorbed.merged_into is not None:
                done = absorbed.merged_into.org_id == into.id
                if done and sorted(into.members) == sorted(confirmed):
                    return into
                raise OrgCaseChanged(absorbed.id)
            if into.merged_into is not None:
                raise OrgCaseChanged(into.id)
            moving = absorbed.members
            if not moving or not into.members:
                raise OrgCaseChanged(absorbed.id if not moving else into.id)
            if sorted((*into.members, *moving)) != sorted(confirmed):
                raise OrgCaseChanged(into.id)
            now = self._clock.now()
            await conn.execute(
                update(org_case_members)
                .where(_ACTIVE, org_case_members.c.org_id == absorbed.id)
                .values(left_at=now, left_by_id=by.object_id, left_by_name=by.display_name)
            )
            await conn.execute(
                insert(org_case_members),
                _joining_rows(into.id, moving, by, now),
            )
            await conn.execute(
                insert(org_case_merges).values(
                    from_org=absorbed.id,
                    into_org=into.id,
                    at=now,
                    by_id=by.object_id,
                    by_name=by.display_name,
                    moved=",".join(moving),
                )
            )
            merged = await self._org(conn, into.id)
            text = org_merged_note(into.id, merged.members, absorbed.id, moving)
            await self._note_all(conn, merged.members, text, by)
        return merged
