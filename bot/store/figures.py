"""The organisation's figures counted by the database (``FigureQueries`` port on SQL).

A fixed handful of aggregate statements over the cases reported in a period, whatever
their number: counts by type, department and state; counts per month; the mails
preserved; open and overdue tasks; counterparts in two cases or more (from the
counterpart index). Only the durations come back one row per case (two timestamps),
because their median is computed here, not by every database alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.access import Viewer
from bot.domain.escalation import ActionKind
from bot.domain.evidence import EvidenceKind
from bot.domain.figures import (
    DECIDED,
    PeriodCounts,
    hours_between,
    month_bounds,
    period_bounds,
)
from bot.domain.jobs import JobState
from bot.domain.linking import PERSON_KEYS
from bot.store.engine import Engines
from bot.store.job_rows import utc
from bot.store.sql import visible_to
from bot.store.tables import (
    case_counterparts,
    case_tasks,
    evidence,
    incident_events,
    incidents,
    jobs,
)


class SqlFigures:
    """``FigureQueries`` with aggregate SQL."""

    def __init__(self, engines: Engines) -> None:
        self._engines = engines

    async def period_counts(
        self, start: dt.date, end: dt.date, *, today: dt.date, viewer: Viewer | None = None
    ) -> PeriodCounts:
        """The counts of the cases reported from ``start`` to ``end`` (inclusive, JST)."""
        first, until = period_bounds(start, end)
        in_period = and_(incidents.c.created_at >= first, incidents.c.created_at < until)
        async with self._engines.read.connect() as conn:
            by_type: dict[str, int] = {}
            by_department: dict[str, int] = {}
            by_state: dict[str, int] = {}
            grouped = await conn.execute(
                select(incidents.c.type, incidents.c.department, incidents.c.state, func.count())
                .where(in_period)
                .group_by(incidents.c.type, incidents.c.department, incidents.c.state)
            )
            for type_, department, state, n in grouped:
                by_type[type_] = by_type.get(type_, 0) + n
                by_department[department] = by_department.get(department, 0) + n
                by_state[state] = by_state.get(state, 0) + n
            open_tasks, overdue_tasks = await self._tasks(conn, in_period, today)
            repeat_counterparts, repeat_cases = await self._repeats(conn, in_period)
            return PeriodCounts(
                by_type=by_type,
                by_department=by_department,
                by_month=await self._by_month(conn, start, end, in_period),
                by_state=by_state,
                decision_hours=await self._decision_hours(conn, in_period),
                protection_hours=await self._protection_hours(conn, in_period),
                mails_preserved=await self._mails(conn, in_period),
                open_tasks=open_tasks,
                overdue_tasks=overdue_tasks,
                repeat_counterparts=repeat_counterparts,
                cases_with_repeat_counterpart=repeat_cases,
                visible_cases=await self._visible(conn, in_period, viewer),
            )

    async def _by_month(
        self, conn: AsyncConnection, start: dt.date, end: dt.date, in_period: Any
    ) -> dict[str, int]:
        # One statement: a sum per month over half-open UTC ranges (JST months).
        bounds = month_bounds(start, end)
        columns = [
            func.coalesce(
                func.sum(
                    case(
                        (
                            and_(incidents.c.created_at >= lo, incidents.c.created_at < hi),
                            1,
                        ),
                        else_=0,
                    )
                ),
                0,
            ).label(f"m{n}")
            for n, (_, lo, hi) in enumerate(bounds)
        ]
        row = (await conn.execute(select(*columns).where(in_period))).one()
        return {label: int(row[n]) for n, (label, _, _) in enumerate(bounds)}

    async def _decision_hours(self, conn: AsyncConnection, in_period: Any) -> list[float]:
        decided = (
            select(incidents.c.created_at, func.min(incident_events.c.at))
            .join(incident_events, incident_events.c.incident_id == incidents.c.id)
            .where(in_period, incident_events.c.to_state.in_([str(s) for s in DECIDED]))
            .group_by(incidents.c.id, incidents.c.created_at)
        )
        return [hours_between(utc(at), utc(created)) for created, at in await conn.execute(decided)]

    async def _protection_hours(self, conn: AsyncConnection, in_period: Any) -> list[float]:
        protected = (
            select(incidents.c.created_at, func.min(jobs.c.finished_at))
            .join(jobs, jobs.c.incident_id == incidents.c.id)
            .where(
                in_period,
                jobs.c.kind == str(ActionKind.MAIL_PROTECTION),
                jobs.c.state == str(JobState.SUCCEEDED),
                jobs.c.finished_at.is_not(None),
            )
            .group_by(incidents.c.id, incidents.c.created_at)
        )
        return [
            hours_between(utc(at), utc(created)) for created, at in await conn.execute(protected)
        ]

    async def _mails(self, conn: AsyncConnection, in_period: Any) -> int:
        query = (
            select(func.count())
            .select_from(evidence.join(incidents, incidents.c.id == evidence.c.case_id))
            .where(in_period, evidence.c.kind == str(EvidenceKind.EMAIL))
        )
        return int(await conn.scalar(query) or 0)

    async def _tasks(
        self, conn: AsyncConnection, in_period: Any, today: dt.date
    ) -> tuple[int, int]:
        open_ = case_tasks.c.done_at.is_(None)
        query = (
            select(
                func.coalesce(func.sum(case((open_, 1), else_=0)), 0),
                func.coalesce(
                    func.sum(case((and_(open_, case_tasks.c.due < today), 1), else_=0)), 0
                ),
            )
            .select_from(case_tasks.join(incidents, incidents.c.id == case_tasks.c.incident_id))
            .where(in_period)
        )
        open_tasks, overdue = (await conn.execute(query)).one()
        return int(open_tasks), int(overdue)

    async def _repeats(self, conn: AsyncConnection, in_period: Any) -> tuple[int, int]:
        # A person (address or SNS account) named in two cases or more of the period.
        in_cases = case_counterparts.join(
            incidents, incidents.c.id == case_counterparts.c.incident_id
        )
        person = or_(*(case_counterparts.c.key.startswith(p) for p in PERSON_KEYS))
        repeated = (
            select(case_counterparts.c.key)
            .select_from(in_cases)
            .where(in_period, person)
            .group_by(case_counterparts.c.key)
            .having(func.count() > 1)
        ).cte("repeated")
        query = select(
            select(func.count()).select_from(repeated).scalar_subquery(),
            select(func.count(distinct(case_counterparts.c.incident_id)))
            .select_from(in_cases)
            .where(in_period, case_counterparts.c.key.in_(select(repeated.c.key)))
            .scalar_subquery(),
        )
        counterparts, cases = (await conn.execute(query)).one()
        return int(counterparts), int(cases)

    async def _visible(
        self, conn: AsyncConnection, in_period: Any, viewer: Viewer | None
    ) -> tuple[str, ...]:
        if viewer is None:
            return ()
        query = select(incidents.c.id).where(in_period)
        if not viewer.is_legal:
            query = query.where(visible_to(viewer))
        rows = await conn.execute(query.order_by(incidents.c.created_at, incidents.c.id))
        return tuple(case_id for (case_id,) in rows)
