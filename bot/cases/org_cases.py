"""Organisational cases (組織案件): plan and confirm a merge, open one, take a member out,
merge two organisational cases with the same counterpart.

The rules are ``bot.domain.org_cases``'s; the lookup of linked cases is
``LinkedCasesService.links`` (one home for it); the membership and each member's evidence
note are written together by the ``OrgCaseRepository``. A merge happens only with the
exact list of cases the confirmation showed: if the picture changed meanwhile, the
person gets the new confirmation instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from bot.cases.linked import LinkedCasesService
from bot.domain.access import Access, CaseAction, Viewer, access, permits
from bot.domain.errors import DomainError
from bot.domain.evidence import EvidenceKind
from bot.domain.incidents import Incident, Person
from bot.domain.linking import Link, LinkedCases
from bot.domain.org_cases import (
    MergePlan,
    OrgCase,
    OrgCaseChanged,
    OrgCaseNotFound,
    OrgCaseView,
    OrgMergePlan,
    OrgTotals,
    merge_target,
    plan_merge,
    plan_org_merge,
    view_org_case,
)
from bot.domain.ports import OrgCaseRepository, Store, TaskRepository

log = logging.getLogger(__name__)


class MergeRefused(DomainError):
    """No merge: ``reason`` is 'own-case', 'not-a-manager', 'nothing' or 'changed'."""

    def __init__(self, reason: str, plan: MergePlan | OrgMergePlan | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.plan = plan


def refusal(plan: MergePlan) -> str:
    """Why ``plan`` cannot be done: own-case, not-a-manager or nothing (never which case)."""
    if plan.access is Access.OWN_CASE:
        return "own-case"
    if plan.access is Access.NOT_A_MANAGER and len(plan.members) >= 2:
        return "not-a-manager"
    return "nothing"  # also when a member is not visible: never say which


def org_refusal(plan: OrgMergePlan) -> str:
    """Why two organisational cases cannot be merged by this viewer.

    They see both (and the others' members as counts already), so a member they may not
    merge, or not see, is "not a manager of every case", never which one.
    """
    if plan.into.id == plan.absorbed.id or not plan.moving or not plan.into.members:
        return "nothing"
    if plan.access is Access.OWN_CASE:
        return "own-case"
    return "not-a-manager"


class OrgCasesService:
    """Organisational cases for people, applying the domain's rules."""

    def __init__(
        self,
        *,
        store: Store,
        org_cases: OrgCaseRepository,
        linked: LinkedCasesService,
        tasks: TaskRepository,
    ) -> None:
        self._store = store
        self._org_cases = org_cases
        self._linked = linked
        self._tasks = tasks

    async def summary(self, incident: Incident, viewer: Viewer | None) -> LinkedCases:
        """The linked-cases block, with the organisational case and whether to offer a merge."""
        links = await self._linked.links(incident)
        base = await self._linked.summary(incident, viewer, links)
        org_of = await self._org_of(incident, links)
        org_id = org_of.get(incident.id, "")
        org = await self._org_cases.get_org_case(org_id) if org_id else None
        can_merge = False
        if viewer is not None and base.total and permits(viewer, incident, CaseAction.MERGE):
            can_merge = (await self._plan(incident, viewer, links, org_of, org)).possible
        members = len(org.members) if org else 0
        return replace(base, org_case=org_id, org_members=members, can_merge=can_merge)

    async def plan(self, incident: Incident, viewer: Viewer) -> MergePlan:
        """What merging from ``incident``'s card would do for ``viewer``."""
        links = await self._linked.links(incident)
        return await self._plan(incident, viewer, links, await self._org_of(incident, links), None)

    async def _org_of(self, incident: Incident, links: list[Link]) -> dict[str, str]:
        """The organisational case of ``incident`` and of each linked case, if any."""
        ids = [incident.id, *(link.incident.id for link in links)]
        return await self._org_cases.org_cases_of(ids)

    async def _plan(
        self,
        incident: Incident,
        viewer: Viewer,
        links: list[Link],
        org_of: dict[str, str],
        own: OrgCase | None,
    ) -> MergePlan:
        # ``own``: ``incident``'s organisational case when the caller has it already.
        linked = [link.incident for link in links]
        into = merge_target(incident, linked, viewer, org_of)
        members: list[Incident] = []
        if into:
            org = own if own is not None and own.id == into else None
            org = org or await self._org_cases.get_org_case(into)
            members = await self._members(org, known=[incident, *linked])
        return plan_merge(incident, linked, viewer, org_of, into=into, org_members=members)

    async def merge(
        self, incident: Incident, confirmed: Sequence[str], actor: Person, viewer: Viewer
    ) -> OrgCase:
        """Merge exactly the ``confirmed`` cases; ``MergeRefused`` (with the current plan)."""
        plan = await self.plan(incident, viewer)
        if not plan.possible:
            if plan.access is Access.ALLOWED and plan.org_id and not plan.new_members:
                return await self._org_cases.get_org_case(plan.org_id)  # a repeated click
            raise MergeRefused(refusal(plan), plan)
        if sorted(confirmed) != sorted(i.id for i in plan.members):
            raise MergeRefused("changed", plan)
        org = await self._org_cases.merge_cases(plan.org_id, plan.members, by=actor)
        log.info("%d cases in an organisational case", len(org.members))
        return org

    async def _members(self, org: OrgCase, known: Sequence[Incident] = ()) -> list[Incident]:
        # Members are usually among the linked cases already read: load only the others.
        by_id = {i.id: i for i in known}
        return [by_id.get(c) or await self._store.load_incident(c) for c in org.members]

    async def open(self, org_id: str, viewer: Viewer) -> OrgCaseView:
        """The organisational case as ``viewer`` may see it; ``OrgCaseNotFound`` otherwise.

        One merged into another is seen through the members that moved (where they went).
        """
        view = await self._view(org_id, viewer)
        if view.org.merged_into is None and view.removable:
            view = replace(view, mergeable=await self._mergeable(view, viewer))
        return view

    async def _view(self, org_id: str, viewer: Viewer) -> OrgCaseView:
        try:
            org = await self._org_cases.get_org_case(org_id)
        except OrgCaseNotFound:
            log.info("organisational case not found")
            raise
        if org.merged_into is not None:
            moved = [await self._store.load_incident(c) for c in org.merged_into.moved]
            return view_org_case(org, moved, viewer, self._linked.free_mail)
        return view_org_case(org, await self._members(org), viewer, self._linked.free_mail)

    async def _linked_orgs(self, members: Sequence[Incident], viewer: Viewer | None) -> set[str]:
        # The other organisational cases a linked case of ``members`` is in (with a viewer:
        # only through linked cases they may see, so no button names one they cannot).
        own = {m.id for m in members}
        linked: dict[str, Incident] = {}
        for member in members:
            for link in await self._linked.links(member):
                if link.incident.id not in own and (
                    viewer is None or permits(viewer, link.incident, CaseAction.SEE)
                ):
                    linked[link.incident.id] = link.incident
        org_of = await self._org_cases.org_cases_of(list(linked))
        return set(org_of.values())

    async def _mergeable(self, view: OrgCaseView, viewer: Viewer) -> tuple[str, ...]:
        found = []
        for other in sorted(await self._linked_orgs(view.visible, viewer) - {view.org.id}):
            plan = await self._plan_orgs(
                view.org, await self._org_cases.get_org_case(other), viewer
            )
            if plan.possible:
                found.append(other)
        return tuple(found)

    async def _plan_orgs(self, first: OrgCase, second: OrgCase, viewer: Viewer) -> OrgMergePlan:
        members = {i.id: i for i in await self._members(first)}
        members.update({i.id: i for i in await self._members(second)})
        return plan_org_merge(first, second, members, viewer)

    async def plan_orgs(self, org_id: str, other_id: str, viewer: Viewer) -> OrgMergePlan:
        """Merging ``org_id`` and ``other_id`` for ``viewer``; ``OrgCaseNotFound`` unless they
        may see both, and (for ``other_id``) unless the two share a counterpart."""
        first = (await self._view(org_id, viewer)).org
        second = (await self._view(other_id, viewer)).org
        both = first.id != second.id and first.members and second.members
        if both and second.id not in await self._linked_orgs(await self._members(first), None):
            # Not the same counterpart: nothing for this action to offer (no other answer).
            raise OrgCaseNotFound(other_id)
        return await self._plan_orgs(first, second, viewer)

    async def merge_orgs(
        self, org_id: str, other_id: str, confirmed: Sequence[str], actor: Person, viewer: Viewer
    ) -> OrgCase:
        """Merge the two exactly as confirmed; ``MergeRefused`` (with the current plan)."""
        plan = await self.plan_orgs(org_id, other_id, viewer)
        if not plan.possible:
            done = plan.absorbed.merged_into
            allowed = plan.access is Access.ALLOWED and bool(plan.into.members)
            if allowed and done is not None and done.org_id == plan.into.id:
                # A repeated (or a concurrent) click: the merge is done, nothing more to do.
                return plan.into
            raise MergeRefused(org_refusal(plan), plan)
        if sorted(confirmed) != sorted(i.id for i in plan.members):
            raise MergeRefused("changed", plan)
        try:
            org = await self._org_cases.merge_org_cases(
                plan.into.id, plan.absorbed.id, [i.id for i in plan.members], by=actor
            )
        except OrgCaseChanged:
            raise MergeRefused("changed", await self.plan_orgs(org_id, other_id, viewer)) from None
        log.info("two organisational cases merged (%d cases)", len(org.members))
        return org

    async def totals(self, org: OrgCase) -> OrgTotals:
        """Mails preserved, SNS posts and tasks over the active members."""
        mails = posts = 0
        for case_id in org.members:
            mails += len(await self._store.recorded_email_ids(case_id))
            async for entry in self._store.iter_evidence(case_id):
                posts += entry.kind == EvidenceKind.SNS_POST
        tasks = await self._tasks.tasks_of_many(list(org.members))
        every = [task for listed in tasks.values() for task in listed]
        return OrgTotals(mails, posts, sum(t.done_at is None for t in every), len(every))

    async def remove(self, org_id: str, incident_id: str, actor: Person, viewer: Viewer) -> OrgCase:
        """Take a member out (``OrgCaseNotFound`` unless the viewer sees it; ``MergeRefused``
        unless they may merge it); its membership row and evidence stay."""
        view = await self._view(org_id, viewer)
        member = next(
            (i for i in view.visible if i.id == incident_id and i.id in view.org.members), None
        )
        if member is None:
            raise OrgCaseNotFound(org_id)
        answer = access(viewer, member, CaseAction.MERGE)
        if answer is not Access.ALLOWED:
            raise MergeRefused("own-case" if answer is Access.OWN_CASE else "not-a-manager")
        return await self._org_cases.remove_from_org_case(org_id, incident_id, by=actor)
