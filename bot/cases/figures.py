"""The organisation's figures: gathered from the store, tasks and jobs; shown as card, HTML, CSV.

``OrgFiguresService.figures`` reads every case of the period (as the organisation), its
tasks, the mails preserved in its evidence log and when mail protection finished, and
hands them to the domain rule (``bot.domain.figures``). Only counts and durations come
out, plus the ids of cases the viewer may open when a viewer is given.
"""

from __future__ import annotations

import datetime as dt

from bot.cases.linked import MAX_CASES, ORGANISATION
from bot.domain.access import Viewer, can_view
from bot.domain.figures import OrgFigures, in_period, org_figures
from bot.domain.incidents import JST
from bot.domain.jobs import JobState
from bot.domain.linking import FREE_MAIL_DOMAINS
from bot.domain.ports import Clock, JobQueue, Store, TaskRepository

PROTECTION_JOB = "mail-protection"


def fiscal_year_start(today: dt.date) -> dt.date:
    """April 1st of the Japanese fiscal year ``today`` is in (municipal offices count so)."""
    year = today.year if today.month >= 4 else today.year - 1
    return dt.date(year, 4, 1)


class OrgFiguresService:
    """Computes the figures of a period."""

    def __init__(
        self,
        *,
        store: Store,
        tasks: TaskRepository,
        jobs: JobQueue,
        clock: Clock,
        free_mail: frozenset[str] = FREE_MAIL_DOMAINS,
    ) -> None:
        self._store = store
        self._tasks = tasks
        self._jobs = jobs
        self._clock = clock
        self._free_mail = free_mail

    def today(self) -> dt.date:
        """Today in Japan."""
        return self._clock.now().astimezone(JST).date()

    async def figures(
        self, start: dt.date, end: dt.date, *, viewer: Viewer | None = None
    ) -> OrgFigures:
        """The figures of cases reported from ``start`` to ``end`` (inclusive, JST)."""
        everything = await self._store.list_incidents(ORGANISATION, limit=MAX_CASES)
        cases = [i for i in everything if in_period(i, start, end)]
        ids = [i.id for i in cases]
        tasks = await self._tasks.tasks_of_many(ids) if ids else {}
        mails: dict[str, int] = {}
        protected: dict[str, dt.datetime] = {}
        for incident in cases:
            mails[incident.id] = len(await self._store.recorded_email_ids(incident.id))
            finished = [
                j.finished_at
                for j in await self._jobs.jobs_for_incident(incident.id)
                if j.kind == PROTECTION_JOB
                and j.state is JobState.SUCCEEDED
                and j.finished_at is not None
            ]
            if finished:
                protected[incident.id] = min(finished)
        visible = (
            frozenset(i.id for i in cases if can_view(i, viewer)) if viewer is not None else None
        )
        return org_figures(
            cases,
            start=start,
            end=end,
            today=self.today(),
            tasks=tasks,
            mails=mails,
            protected_at=protected,
            visible=visible,
            free_mail=self._free_mail,
        )
