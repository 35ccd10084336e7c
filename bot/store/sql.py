"""The SQL store: incidents, timelines and evidence logs on SQLite or PostgreSQL.

Evidence is append-only: this module has no UPDATE or DELETE of ``evidence`` rows (the
database refuses them too, by trigger). Every write runs in one transaction, so a
failure leaves nothing half-written. Logs carry ids and counts only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import ColumnElement, Row, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.access import Viewer, can_view
from bot.domain.decisions import DecidedCase, DecisionPlan, DecisionRecord, Planner
from bot.domain.errors import AccessDenied, IncidentNotFound
from bot.domain.escalation import ActionKind, Decision
from bot.domain.evidence import (
    GENESIS_HASH,
    NoteItem,
)
from bot.domain.incidents import (
    EventKind,
    Incident,
    IncidentDraft,
    IncidentState,
    IncidentType,
    Person,
    TimelineEvent,
    format_incident_id,
    incident_year,
    open_incident,
)
from bot.domain.jobs import Job
from bot.domain.ports import BlobStore, Clock, SystemClock
from bot.store.common import (
    EmailLogMixin,
    counterparts_from_json,
    counterparts_json,
    scoped_key,
)
from bot.store.counterparts import index_rows, stored_keys
from bot.store.engine import Engines, create_engines, upsert_insert
from bot.store.job_rows import job_values, utc
from bot.store.org_cases import SqlOrgCasesMixin
from bot.store.registry import draw_numbers, put_rows, registry_row
from bot.store.sql_evidence import SqlEvidenceMixin
from bot.store.tables import (
    case_counterparts,
    case_tasks,
    decisions,
    evidence_heads,
    incident_events,
    incident_sequences,
    incident_targets,
    incidents,
    jobs,
)
from bot.store.tasks import task_values

log = logging.getLogger(__name__)


def _event_row(incident_id: str, event: TimelineEvent) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "at": event.at,
        "actor_id": event.actor.object_id,
        "actor_name": event.actor.display_name,
        "kind": str(event.kind),
        "from_state": event.from_state,
        "to_state": event.to_state,
        "note": event.note,
    }


def _event(row: Row[Any]) -> TimelineEvent:
    return TimelineEvent(
        at=utc(row.at),
        actor=Person(row.actor_id, row.actor_name),
        kind=EventKind(row.kind),
        from_state=IncidentState(row.from_state) if row.from_state else None,
        to_state=IncidentState(row.to_state) if row.to_state else None,
        note=row.note,
    )


def visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """The cases a viewer who is not legal may see, as a WHERE clause (``can_view``'s rule)."""
    targeted = select(incident_targets.c.incident_id).where(
        incident_targets.c.object_id == viewer.object_id
    )
    managed = sorted(d for d in viewer.managed_departments if viewer.manages(d))
    return or_(
        incidents.c.reporter_id == viewer.object_id,
        incidents.c.id.in_(targeted),
        incidents.c.department.in_(managed),
    )


class SqlStore(SqlEvidenceMixin, SqlOrgCasesMixin, EmailLogMixin):
    """``Store`` on SQLAlchemy async (SQLite via aiosqlite, PostgreSQL via asyncpg)."""

    def __init__(
        self,
        engines: Engines,
        *,
        blobs: BlobStore,
        clock: Clock | None = None,
        write_lock: asyncio.Lock | None = None,
    ) -> None:
        self._engines = engines
        self._blobs = blobs
        self._clock = clock or SystemClock()
        # SQLite allows one writer: queue this process's writers here rather than on the
        # file lock, which would make them spin on busy_timeout.
        self._write_lock = write_lock or asyncio.Lock()

    @classmethod
    def from_url(
        cls, url: str, *, blobs: BlobStore, clock: Clock | None = None, **engine_kwargs: Any
    ) -> SqlStore:
        """A store on the database at ``url`` (run ``bot.store.migrate.upgrade`` first)."""
        return cls(create_engines(url, **engine_kwargs), blobs=blobs, clock=clock)

    async def close(self) -> None:
        """Release connections."""
        await self._engines.dispose()

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        async with self._engines.transaction(self._write_lock) as conn:
            yield conn

    # --- incidents

    async def create_incident(self, draft: IncidentDraft, *, idempotency_key: str) -> Incident:
        """Open an incident; the same ``idempotency_key`` returns the incident already made."""
        # Scoped to the reporter: someone else's key can never return their incident.
        idempotency_key = scoped_key(draft, idempotency_key)
        existing = await self._find_by_key(idempotency_key)
        if existing is not None:
            return existing
        try:
            async with self._tx() as conn:
                now = self._clock.now()
                year = incident_year(now)
                number = await self._next_number(conn, year)
                incident = open_incident(
                    draft, incident_id=format_incident_id(year, number), at=now
                )
                await self._insert_incident(conn, incident, year, number, idempotency_key)
                # The reporter's own account is the first, immutable piece of evidence.
                await self._append(
                    conn,
                    incident.id,
                    NoteItem(text=draft.summary, statement=True),
                    draft.reporter,
                    now,
                )
        except IntegrityError:
            # A concurrent submit with the same key won the race: return its incident.
            existing = await self._find_by_key(idempotency_key)
            if existing is None:
                raise
            return existing
        log.info("incident %s opened (type %s)", incident.id, incident.type)
        return incident

    async def _next_number(self, conn: AsyncConnection, year: int) -> int:
        dialect_insert = upsert_insert(conn)
        await conn.execute(
            dialect_insert(incident_sequences)
            .values(year=year, last=0)
            .on_conflict_do_nothing(index_elements=["year"])
        )
        result = await conn.execute(
            update(incident_sequences)
            .where(incident_sequences.c.year == year)
            .values(last=incident_sequences.c.last + 1)
            .returning(incident_sequences.c.last)
        )
        return int(result.scalar_one())

    async def _insert_incident(
        self, conn: AsyncConnection, incident: Incident, year: int, number: int, key: str
    ) -> None:
        await conn.execute(
            insert(incidents).values(
                id=incident.id,
                year=year,
                number=number,
                type=str(incident.type),
                state=str(incident.state),
                department=incident.department,
                reporter_id=incident.reporter.object_id,
                reporter_name=incident.reporter.display_name,
                summary=incident.summary,
                counterparts=counterparts_json(incident.counterparts),
                physical_threat=incident.physical_threat,
                started_on=incident.started_on,
                created_at=incident.created_at,
                idempotency_key=key,
            )
        )
        await conn.execute(
            insert(incident_targets),
            [
                {
                    "incident_id": incident.id,
                    "object_id": p.object_id,
                    "display_name": p.display_name,
                    "position": i,
                }
                for i, p in enumerate(incident.targets)
            ],
        )
        for event in incident.timeline:
            await conn.execute(insert(incident_events).values(**_event_row(incident.id, event)))
        rows = index_rows(incident.id, incident.counterparts)
        if rows:  # the counterpart index, in the case's own transaction
            await conn.execute(insert(case_counterparts), rows)
        await conn.execute(
            insert(evidence_heads).values(case_id=incident.id, count=0, hash=GENESIS_HASH)
        )

    async def _find_by_key(self, key: str) -> Incident | None:
        async with self._engines.read.connect() as conn:
            row = (
                await conn.execute(select(incidents).where(incidents.c.idempotency_key == key))
            ).one_or_none()
            return None if row is None else (await self._hydrate(conn, [row]))[0]

    async def _hydrate(self, conn: AsyncConnection, rows: Sequence[Row[Any]]) -> list[Incident]:
        ids = [r.id for r in rows]
        targets: dict[str, list[Person]] = {i: [] for i in ids}
        for t in await conn.execute(
            select(incident_targets)
            .where(incident_targets.c.incident_id.in_(ids))
            .order_by(incident_targets.c.incident_id, incident_targets.c.position)
        ):
            targets[t.incident_id].append(Person(t.object_id, t.display_name))
        events: dict[str, list[TimelineEvent]] = {i: [] for i in ids}
        for e in await conn.execute(
            select(incident_events)
            .where(incident_events.c.incident_id.in_(ids))
            .order_by(incident_events.c.id)
        ):
            events[e.incident_id].append(_event(e))
        return [
            Incident(
                id=r.id,
                type=IncidentType(r.type),
                state=IncidentState(r.state),
                reporter=Person(r.reporter_id, r.reporter_name),
                targets=tuple(targets[r.id]),
                department=r.department,
                counterparts=counterparts_from_json(r.counterparts),
                physical_threat=bool(r.physical_threat),
                summary=r.summary,
                started_on=r.started_on,
                created_at=utc(r.created_at),
                timeline=tuple(events[r.id]),
            )
            for r in rows
        ]

    async def _load(self, conn: AsyncConnection, incident_id: str, *, lock: bool) -> Incident:
        query = select(incidents).where(incidents.c.id == incident_id)
        row = (await conn.execute(query.with_for_update() if lock else query)).one_or_none()
        if row is None:
            raise IncidentNotFound(incident_id)
        return (await self._hydrate(conn, [row]))[0]

    async def load_incident(self, incident_id: str) -> Incident:
        """The incident without an access check; raises ``IncidentNotFound``."""
        async with self._engines.reading() as conn:
            return await self._load(conn, incident_id, lock=False)

    async def get_incident(self, incident_id: str, viewer: Viewer) -> Incident:
        """The incident if ``viewer`` may see it."""
        incident = await self.load_incident(incident_id)
        if not can_view(incident, viewer):
            raise AccessDenied(incident_id, viewer.object_id)
        return incident

    async def list_incidents(self, viewer: Viewer, *, limit: int = 50) -> list[Incident]:
        """The incidents ``viewer`` may see, newest first (same rule as ``can_view``)."""
        query = select(incidents).order_by(incidents.c.created_at.desc(), incidents.c.id.desc())
        if not viewer.is_legal:
            query = query.where(visible_to(viewer))
        async with self._engines.read.connect() as conn:
            rows = (await conn.execute(query.limit(limit))).all()
            return await self._hydrate(conn, rows) if rows else []

    async def cases_sharing(self, keys: Collection[str]) -> list[Incident]:
        """The cases indexed under any of ``keys`` (counterpart keys), oldest first."""
        wanted = stored_keys(keys)
        if not wanted:
            return []
        ids = select(case_counterparts.c.incident_id).where(case_counterparts.c.key.in_(wanted))
        query = (
            select(incidents)
            .where(incidents.c.id.in_(ids))
            .order_by(incidents.c.created_at, incidents.c.id)
        )
        async with self._engines.reading() as conn:
            rows = (await conn.execute(query)).all()
            return await self._hydrate(conn, rows) if rows else []

    async def transition(
        self, incident_id: str, target: IncidentState, *, actor: Person, note: str = ""
    ) -> Incident:
        """Move the incident to ``target``; raises ``InvalidTransition`` if not allowed."""
        async with self._tx() as conn:
            current = await self._load(conn, incident_id, lock=True)
            moved = current.moved_to(target, actor=actor, at=self._clock.now(), note=note)
            await conn.execute(
                update(incidents).where(incidents.c.id == incident_id).values(state=str(target))
            )
            await conn.execute(
                insert(incident_events).values(**_event_row(incident_id, moved.timeline[-1]))
            )
        log.info("incident %s: %s -> %s", incident_id, current.state, target)
        return moved

    async def add_event(self, incident_id: str, event: TimelineEvent) -> Incident:
        """Append a timeline event that does not change the state."""
        async with self._tx() as conn:
            current = await self._load(conn, incident_id, lock=True)
            await conn.execute(insert(incident_events).values(**_event_row(incident_id, event)))
        return current.with_event(event)

    # --- decisions (``DecisionLog``): one transaction per decision

    async def decide(
        self,
        incident_id: str,
        planner: Planner,
        *,
        actor: Person,
        known: Incident | None = None,
    ) -> DecidedCase:
        """Lock the case, ask ``planner`` what to write, then write all of it or nothing.

        The state change, its timeline event, the decision row, the approved jobs, the
        tasks and the keyed records (the drafts with their reference numbers) go into one
        transaction (the jobs table is the outbox the runner reads): a crash at any point
        leaves the case either undecided or decided with every job queued, every task
        created and every draft written.
        """
        async with self._tx() as conn:
            current, plan = await self._move_for_decision(conn, incident_id, planner, known)
            at = plan.record.at
            moved = current.moved_to(plan.target, actor=actor, at=at, note=plan.note)
            await conn.execute(
                insert(incident_events).values(**_event_row(incident_id, moved.timeline[-1]))
            )
            record = plan.record
            await conn.execute(
                insert(decisions).values(
                    incident_id=incident_id,
                    decision=record.decision.value,
                    by_id=record.by.object_id,
                    by_name=record.by.display_name,
                    at=record.at,
                    comment=record.comment,
                    actions=json.dumps([k.value for k in record.actions]),
                )
            )
            queued = tuple(Job.new(uuid.uuid4().hex, spec, at=at) for spec in plan.jobs)
            if queued:
                # One statement for all of them (executemany as a multi-row INSERT).
                await conn.execute(insert(jobs), [job_values(j) for j in queued])
            if plan.tasks:
                # A case is decided once, so its tasks are new: one multi-row INSERT.
                await conn.execute(insert(case_tasks), [task_values(t) for t in plan.tasks])
            records = plan.records
            numbered = plan.numbered
            if numbered is not None and numbered.count:
                # All the numbers in one draw; rolled back with the decision if it fails.
                last = await draw_numbers(
                    conn, numbered.counter_kind, numbered.counter_key, numbered.count
                )
                numbers = tuple(range(last - numbered.count + 1, last + 1))
                records = (*records, *numbered.build(numbers))
            if records:
                now = self._clock.now()
                await put_rows(conn, [registry_row(r.kind, r.key, r.value, now) for r in records])
        log.info("incident %s: %s -> %s (decision)", incident_id, current.state, plan.target)
        return DecidedCase(moved, record, queued, plan.tasks, records)

    async def _move_for_decision(
        self, conn: AsyncConnection, incident_id: str, planner: Planner, known: Incident | None
    ) -> tuple[Incident, DecisionPlan]:
        """The case as locked, the plan made on it, and the case's row moved to its target.

        With ``known`` (just read by the caller's access check) the plan is made on it and
        the move is a compare-and-set (``UPDATE … WHERE state = <known state>``): only the
        state can have changed meanwhile (targets and department never do), so one
        statement both checks and moves. If another decision won meanwhile, the case is
        read again under the lock and planned again (which refuses it).
        """
        if known is not None and known.id == incident_id:
            plan = planner(known)  # DecisionRefused: nothing was written
            moved = await conn.execute(
                update(incidents)
                .where(incidents.c.id == incident_id, incidents.c.state == str(known.state))
                .values(state=str(plan.target))
            )
            if moved.rowcount == 1:
                return known, plan
        current = await self._load(conn, incident_id, lock=True)
        plan = planner(current)
        current.moved_to(plan.target, actor=plan.record.by, at=plan.record.at)  # may refuse
        await conn.execute(
            update(incidents).where(incidents.c.id == incident_id).values(state=str(plan.target))
        )
        return current, plan

    async def decision_of(self, incident_id: str) -> DecisionRecord | None:
        """The case's decision, or None while undecided."""
        async with self._engines.reading() as conn:
            row = (
                await conn.execute(select(decisions).where(decisions.c.incident_id == incident_id))
            ).one_or_none()
        if row is None:
            return None
        return DecisionRecord(
            incident_id=row.incident_id,
            decision=Decision(row.decision),
            by=Person(row.by_id, row.by_name),
            at=utc(row.at),
            comment=row.comment,
            actions=tuple(ActionKind(k) for k in json.loads(row.actions)),
        )
