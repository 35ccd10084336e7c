"""Case work in Teams: 「案件一覧」 / 「自分の案件」, the case detail, and the task buttons.

Every verb resolves who is asking (``bot.cases.viewers``) and lets the domain's access
rule decide; a case the person may not see answers exactly like one that does not exist.
"""

from __future__ import annotations

import logging
from typing import Any

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import TurnContext

from bot.cases.escalation import Escalations
from bot.cases.listing import CaseListing
from bot.cases.tasks import CaseTasks, NotAManager
from bot.domain.cases import CaseFilter, Scope
from bot.domain.incidents import Person
from bot.domain.locale import Locale
from bot.domain.matcher import Command
from bot.domain.playbooks import PlaybookLibrary
from bot.domain.tasks import TaskKind, TaskNotFound
from bot.teams.actions import ActionDispatcher, ActionRequest, ActionResult, InvalidAction
from bot.teams.identity import Sender
from bot.teams.incidents import CommandHandler, person_of
from bot.teams.replies import send_card
from cards.case_list import case_detail_card, case_list_card
from cards.i18n import t
from cards.notices import text_card
from cards.verbs import Verb

log = logging.getLogger(__name__)


def register(
    actions: ActionDispatcher,
    listing: CaseListing,
    tasks: CaseTasks,
    escalations: Escalations,
    library: PlaybookLibrary,
) -> dict[Command, CommandHandler]:
    """Add the case-list, case-detail and task verbs; returns the list commands."""

    async def list_card(
        activity: Activity,
        person: Person,
        scope: Scope,
        case_filter: CaseFilter,
        page: int,
        locale: Locale,
    ) -> dict[str, Any]:
        channel = _channel_id(activity)
        if channel is None:
            result = await listing.page(person, scope, case_filter, page)
            return case_list_card(result, library, locale)
        # A channel's members are not all managers of every department its posters manage:
        # there, only the managers' list of the departments set up in this very channel.
        viewer = await listing.viewer(person)
        departments = frozenset(
            d
            for d in await escalations.departments_of_channel(channel)
            if viewer.manages(d) or viewer.is_legal
        )
        if scope is Scope.MINE or not departments:
            log.info("case list asked in a channel it does not belong to")
            return text_card(t("cases.channel_private", locale))
        result = await listing.page(person, scope, case_filter, page, departments=departments)
        return case_list_card(result, library, locale)

    async def detail_card(incident_id: str, person: Person, locale: Locale) -> dict[str, Any]:
        detail = await listing.detail(incident_id, person)
        return case_detail_card(detail, library, locale, today=tasks.today())

    def command(scope: Scope) -> CommandHandler:
        async def handle(context: TurnContext, locale: Locale) -> None:
            activity = context.activity
            person = person_of(Sender.of(activity))
            card = await list_card(activity, person, scope, CaseFilter.OPEN, 1, locale)
            await send_card(context, card)

        return handle

    @actions.on(Verb.CASES_LIST)
    async def cases_list(context: TurnContext, request: ActionRequest) -> ActionResult:
        data = request.data
        scope = _enum(Scope, data.get("scope"), Scope.MANAGED)
        case_filter = _enum(CaseFilter, data.get("filter"), CaseFilter.OPEN)
        page = data.get("page")
        number = page if isinstance(page, int) and not isinstance(page, bool) else 1
        person = person_of(request.sender)
        return ActionResult(
            replace=await list_card(
                context.activity, person, scope, case_filter, number, request.locale
            )
        )

    @actions.on(Verb.MY_INCIDENTS)
    async def my_cases(context: TurnContext, request: ActionRequest) -> ActionResult:
        person = person_of(request.sender)
        card = await list_card(
            context.activity, person, Scope.MINE, CaseFilter.OPEN, 1, request.locale
        )
        return ActionResult(replace=card)

    @actions.on(Verb.CASE_SHOW)
    async def case_show(_context: TurnContext, request: ActionRequest) -> ActionResult:
        incident_id = _incident(request)
        return ActionResult(
            replace=await detail_card(incident_id, person_of(request.sender), request.locale)
        )

    async def task_verb(request: ActionRequest, assign: bool) -> ActionResult:
        incident_id = _incident(request)
        try:
            kind = TaskKind(str(request.data.get("task")))
        except ValueError:
            raise InvalidAction(t("tasks.unknown", request.locale)) from None
        actor = person_of(request.sender)
        detail = await listing.detail(incident_id, actor)  # not visible -> "not found"
        if not detail.can_act:
            log.info("task change refused for someone not managing the case")
            raise InvalidAction(t("tasks.not_manager", request.locale))
        try:
            if assign:
                owner = next(
                    (m for m in detail.managers if m.object_id == request.data.get("owner")), None
                )
                if owner is None:
                    raise NotAManager(str(request.data.get("owner")))
                await tasks.assign(detail.incident, kind, owner)
            else:
                await tasks.mark_done(incident_id, kind, actor)
        except TaskNotFound:
            raise InvalidAction(t("tasks.unknown", request.locale)) from None
        except NotAManager:
            raise InvalidAction(t("tasks.not_assignable", request.locale)) from None
        if request.data.get("origin") == "detail":
            return ActionResult(replace=await detail_card(incident_id, actor, request.locale))
        return ActionResult(replace=await escalations.card_for(incident_id, actor, request.locale))

    @actions.on(Verb.TASK_DONE)
    async def task_done(_context: TurnContext, request: ActionRequest) -> ActionResult:
        return await task_verb(request, assign=False)

    @actions.on(Verb.SNS_TASK_DONE)  # the same, from thread cards posted by earlier versions
    async def sns_task_done(_context: TurnContext, request: ActionRequest) -> ActionResult:
        return await task_verb(request, assign=False)

    @actions.on(Verb.TASK_ASSIGN)
    async def task_assign(_context: TurnContext, request: ActionRequest) -> ActionResult:
        return await task_verb(request, assign=True)

    return {Command.CASES: command(Scope.MANAGED), Command.MY_INCIDENTS: command(Scope.MINE)}


def _channel_id(activity: Activity) -> str | None:
    """The Teams channel a message or click came from; None in a personal or group chat."""
    conversation = activity.conversation
    if conversation is None or conversation.conversation_type != "channel":
        return None
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    return str((data.get("channel") or {}).get("id") or conversation.id.split(";")[0])


def _incident(request: ActionRequest) -> str:
    incident_id = request.data.get("incident")
    if not isinstance(incident_id, str) or not incident_id.startswith("KH-"):
        raise InvalidAction("This card does not refer to a case.")
    return incident_id


def _enum[E: (Scope, CaseFilter)](kind: type[E], value: object, default: E) -> E:
    try:
        return kind(str(value)) if value is not None else default
    except ValueError:
        return default
