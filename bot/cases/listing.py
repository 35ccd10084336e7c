"""The case list and the case detail: what a manager (or a staff member) has open now.

「案件一覧」 shows a manager the cases of the departments they manage, 「自分の案件」
shows anyone the cases they reported or that concern them; both page through the
cases with a state filter and count each case's open and overdue tasks. Every case
shown, and every detail opened, passes the domain's access rule (``can_view``).
"""

from __future__ import annotations

import math

from bot.cases.tasks import CaseTasks
from bot.cases.viewers import Viewers
from bot.domain.access import CaseAction, Viewer, can_view, permits
from bot.domain.cases import FILTER_STATES, CaseDetail, CaseFilter, CasePage, CaseRow, Scope
from bot.domain.errors import IncidentNotFound
from bot.domain.incidents import JST, Incident, Person
from bot.domain.ports import Clock, Store

# A department's cases fit: the list reads at most this many (newest first) per request.
MAX_CASES = 500


class CaseListing:
    """Lists and opens cases for a viewer, through the access rule."""

    def __init__(
        self,
        *,
        store: Store,
        tasks: CaseTasks,
        viewers: Viewers,
        clock: Clock,
        page_size: int,
    ) -> None:
        self._store = store
        self._tasks = tasks
        self._viewers = viewers
        self._clock = clock
        self._page_size = page_size

    async def viewer(self, person: Person) -> Viewer:
        """``person`` as the access rule sees them now."""
        return await self._viewers.of(person)

    async def page(
        self,
        person: Person,
        scope: Scope,
        case_filter: CaseFilter,
        page: int = 1,
        *,
        departments: frozenset[str] | None = None,
    ) -> CasePage:
        """Page ``page`` of ``person``'s cases in ``scope`` matching ``case_filter``.

        ``departments``: only cases of these (the list shown in a department's channel).
        """
        viewer = await self._viewers.of(person)
        downgraded = scope is Scope.MANAGED and not (viewer.is_manager or viewer.is_legal)
        if downgraded:
            scope = Scope.MINE
        states = FILTER_STATES[case_filter]
        matching = [
            i
            for i in await self._store.list_incidents(viewer, limit=MAX_CASES)
            if can_view(i, viewer)
            and i.state in states
            and _in_scope(i, viewer, scope)
            and (departments is None or i.department in departments)
        ]
        pages = max(1, math.ceil(len(matching) / self._page_size))
        page = min(max(1, page), pages)
        shown = matching[(page - 1) * self._page_size : page * self._page_size]
        tasks = await self._tasks.tasks_of_many([i.id for i in shown])
        today = self._tasks.today()
        rows = []
        for incident in shown:
            open_tasks = tuple(t for t in tasks.get(incident.id, []) if not t.done)
            reported = incident.created_at.astimezone(JST).date()
            rows.append(
                CaseRow(
                    incident=incident,
                    age_days=(today - reported).days + 1,
                    open_tasks=open_tasks,
                    overdue_tasks=sum(1 for t in open_tasks if t.overdue(today)),
                )
            )
        return CasePage(
            scope=scope,
            filter=case_filter,
            rows=tuple(rows),
            page=page,
            pages=pages,
            count=len(matching),
            downgraded=downgraded,
        )

    async def detail(self, incident_id: str, person: Person) -> CaseDetail:
        """The case if ``person`` may see it; else ``IncidentNotFound`` (as if it did not exist)."""
        viewer = await self._viewers.of(person)
        incident = await self._store.load_incident(incident_id)
        if not can_view(incident, viewer):
            raise IncidentNotFound(incident_id)
        # Tasks are the department managers' work, never on a case about themselves.
        can_act = permits(viewer, incident, CaseAction.MANAGE)
        return CaseDetail(
            incident=incident,
            tasks=await self._tasks.tasks(incident_id),
            can_act=can_act,
            managers=tuple(await self._tasks.managers(incident.department)) if can_act else (),
        )


def _in_scope(incident: Incident, viewer: Viewer, scope: Scope) -> bool:
    if scope is Scope.MANAGED:  # the legal section: every case
        return viewer.manages(incident.department) or viewer.is_legal
    ids = {incident.reporter.object_id, *(t.object_id for t in incident.targets)}
    return viewer.object_id in ids
