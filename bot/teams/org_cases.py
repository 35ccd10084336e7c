"""Organisational cases in Teams: 「組織案件にまとめる」 with its confirmation, the case card.

From the managers' card (the linked-cases line) the merge button shows the confirmation:
exactly which cases will be merged. Only its own button merges, and only that list. The
organisational case's card (``org`` in the data) is opened here for the clicker: whoever
may see none of its members is told it does not exist, as for a case. Its 「組織案件 … と
まとめる」 button (another organisational case with the same counterpart, ``other``) shows
which member ends up where; only that confirmation's button merges the two.
"""

from __future__ import annotations

import logging
from typing import Any

from microsoft_agents.hosting.core import TurnContext

from bot.cases.escalation import Escalations
from bot.cases.org_cases import MergeRefused, OrgCasesService, org_refusal, refusal
from bot.delivery.exports import Exports
from bot.domain.access import Viewer
from bot.domain.errors import IncidentNotFound
from bot.domain.incidents import Incident, Person
from bot.domain.locale import Locale
from bot.domain.org_cases import (
    MergePlan,
    OrgCaseNotFound,
    OrgCaseView,
    OrgMergePlan,
    is_org_case_id,
)
from bot.teams.actions import ActionDispatcher, ActionRequest, ActionResult, InvalidAction
from bot.teams.incidents import person_of
from cards.elements import container, text
from cards.i18n import t
from cards.org_cases import merge_confirm_card, org_case_card, org_merge_confirm_card
from cards.verbs import Verb

log = logging.getLogger(__name__)
_REFUSALS = {
    "own-case": "link.merge.refused",
    "not-a-manager": "org.refused.not_manager",
    "nothing": "link.merge.nothing",
}


def _org_id(request: ActionRequest, field: str = "org") -> str:
    org_id = request.data.get(field)
    if not is_org_case_id(org_id):
        raise InvalidAction("This card does not refer to an organisational case.")
    assert isinstance(org_id, str)
    return org_id


def register(
    actions: ActionDispatcher,
    org_cases: OrgCasesService,
    escalations: Escalations,
    exports: Exports,
) -> None:
    """Add the merge, confirmation, organisational-case, remove, export and merge-two verbs."""

    def departments(cases: list[Incident] | tuple[Incident, ...]) -> dict[str, str]:
        return {i.department: escalations.department_name(i.department) for i in cases}

    async def with_note(incident_id: str, person: Person, locale: Locale, note: str) -> Any:
        card = await escalations.card_for(incident_id, person, locale)
        card["body"].insert(1, container([text(note, weight="Bolder")], style="warning"))
        return card

    @actions.on(Verb.CASES_MERGE)
    async def merge(_context: TurnContext, request: ActionRequest) -> ActionResult:
        case = request.open_case  # opened for the clicker by the dispatcher ("not found")
        plan = await org_cases.plan(case.incident, case.viewer)
        if plan.possible:
            return ActionResult(
                replace=merge_confirm_card(
                    case.incident.id, plan, departments(plan.members), request.locale
                )
            )
        key = _REFUSALS[refusal(plan)]
        person = person_of(request.sender)
        return ActionResult(
            replace=await with_note(
                case.incident.id, person, request.locale, t(key, request.locale)
            )
        )

    @actions.on(Verb.ORG_MERGE_CONFIRM)
    async def confirm(_context: TurnContext, request: ActionRequest) -> ActionResult:
        case = request.open_case
        listed = request.data.get("members")
        if not isinstance(listed, str) or len(listed) > 4000:
            raise InvalidAction("This card does not list the cases to merge.")
        person = person_of(request.sender)
        try:
            org = await org_cases.merge(case.incident, listed.split(","), person, case.viewer)
        except MergeRefused as refused:
            if refused.reason == "changed" and isinstance(refused.plan, MergePlan):
                card = merge_confirm_card(
                    case.incident.id,
                    refused.plan,
                    departments(refused.plan.members),
                    request.locale,
                )
                note = t("org.changed", request.locale)
                card["body"].insert(1, container([text(note, weight="Bolder")], style="warning"))
                return ActionResult(replace=card)
            note = t(_REFUSALS[refused.reason], request.locale)
            return ActionResult(
                replace=await with_note(case.incident.id, person, request.locale, note)
            )
        for member in org.members:
            await escalations.refresh_thread(member)
        note = t("link.merged", request.locale, id=org.id, n=len(org.members))
        return ActionResult(replace=await with_note(case.incident.id, person, request.locale, note))

    async def open_org(org_id: str, viewer: Viewer) -> OrgCaseView:
        try:
            return await org_cases.open(org_id, viewer)
        except OrgCaseNotFound:
            raise IncidentNotFound(org_id) from None  # the dispatcher's "not found" answer

    async def org_card(view: OrgCaseView, locale: Locale, note: str = "") -> dict[str, Any]:
        totals = await org_cases.totals(view.org)
        return org_case_card(view, totals, departments(view.visible), locale, note=note)

    @actions.on(Verb.ORG_SHOW)
    async def show(_context: TurnContext, request: ActionRequest) -> ActionResult:
        viewer = await escalations.viewer(person_of(request.sender))
        view = await open_org(_org_id(request), viewer)
        return ActionResult(replace=await org_card(view, request.locale))

    @actions.on(Verb.ORG_REMOVE)
    async def remove(_context: TurnContext, request: ActionRequest) -> ActionResult:
        case = request.open_case  # the member named as ``case``, opened for the clicker
        org_id = _org_id(request)
        person = person_of(request.sender)
        try:
            await org_cases.remove(org_id, case.incident.id, person, case.viewer)
            note = t("org.removed", request.locale, id=case.incident.id)
        except OrgCaseNotFound:
            raise IncidentNotFound(org_id) from None
        except MergeRefused as refused:
            note = t(_REFUSALS[refused.reason], request.locale)
        await escalations.refresh_thread(case.incident.id)
        try:
            view = await org_cases.open(org_id, case.viewer)
        except OrgCaseNotFound:  # they took out the last member they could see
            return ActionResult(
                replace=await with_note(case.incident.id, person, request.locale, note)
            )
        return ActionResult(replace=await org_card(view, request.locale, note))

    @actions.on(Verb.ORG_EXPORT)
    async def export(_context: TurnContext, request: ActionRequest) -> ActionResult:
        person = person_of(request.sender)
        viewer = await escalations.viewer(person)
        view = await open_org(_org_id(request), viewer)
        if not view.can_export:
            note = t("org.export.not_allowed", request.locale)
            return ActionResult(replace=await org_card(view, request.locale, note))
        await exports.request_org(view.org.id, view.org.members, person)
        reachable = await escalations.notices.reachable(person.object_id)
        key = "export.queued" if reachable else "export.queued.unreachable"
        return ActionResult(replace=await org_card(view, request.locale, t(key, request.locale)))

    async def org_refused(
        org_id: str, viewer: Viewer, plan: OrgMergePlan | None, locale: Locale
    ) -> ActionResult:
        note = t(_REFUSALS[org_refusal(plan) if plan else "nothing"], locale)
        return ActionResult(replace=await org_card(await open_org(org_id, viewer), locale, note))

    @actions.on(Verb.ORG_MERGE_ORGS)
    async def merge_orgs(_context: TurnContext, request: ActionRequest) -> ActionResult:
        viewer = await escalations.viewer(person_of(request.sender))
        org_id, other = _org_id(request), _org_id(request, "other")
        try:
            plan = await org_cases.plan_orgs(org_id, other, viewer)
        except OrgCaseNotFound:
            raise IncidentNotFound(org_id) from None  # either one unseen: "not found"
        if not plan.possible:
            return await org_refused(org_id, viewer, plan, request.locale)
        card = org_merge_confirm_card(plan, departments(plan.members), request.locale)
        return ActionResult(replace=card)

    @actions.on(Verb.ORG_MERGE_ORGS_CONFIRM)
    async def confirm_orgs(_context: TurnContext, request: ActionRequest) -> ActionResult:
        person = person_of(request.sender)
        viewer = await escalations.viewer(person)
        org_id, other = _org_id(request), _org_id(request, "other")
        listed = request.data.get("members")
        if not isinstance(listed, str) or len(listed) > 4000:
            raise InvalidAction("This card does not list the cases to merge.")
        try:
            org = await org_cases.merge_orgs(org_id, other, listed.split(","), person, viewer)
        except OrgCaseNotFound:
            raise IncidentNotFound(org_id) from None
        except MergeRefused as refused:
            plan = refused.plan if isinstance(refused.plan, OrgMergePlan) else None
            if refused.reason == "changed" and plan is not None and plan.possible:
                card = org_merge_confirm_card(plan, departments(plan.members), request.locale)
                note = t("org.changed", request.locale)
                card["body"].insert(1, container([text(note, weight="Bolder")], style="warning"))
                return ActionResult(replace=card)
            if refused.reason == "changed":
                return await org_refused(org_id, viewer, plan, request.locale)
            note = t(_REFUSALS[refused.reason], request.locale)
            view = await open_org(org_id, viewer)
            return ActionResult(replace=await org_card(view, request.locale, note))
        for member in org.members:
            await escalations.refresh_thread(member)
        absorbed = other if org.id == org_id else org_id
        note = t(
            "org.merge_orgs.done",
            request.locale,
            absorbed=absorbed,
            into=org.id,
            n=len(org.members),
        )
        view = await open_org(org.id, viewer)
        return ActionResult(replace=await org_card(view, request.locale, note))
