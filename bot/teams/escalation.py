"""Escalation in Teams: ``setup`` in the managers' channel, the approval card's clicks, and
remembering how to reach each person (Teams id for card views, personal chat for notices).

The clicks arrive with the case already opened for the clicker by the dispatcher
(``bot.teams.actions``): someone who may not see it never reaches these handlers.
"""

from __future__ import annotations

import logging

from microsoft_agents.activity import ActivityTypes
from microsoft_agents.hosting.core import AgentApplication, TurnContext, TurnState

from bot.cases.escalation import Escalations
from bot.delivery.exports import Exports
from bot.domain.access import CaseAction
from bot.domain.escalation import Decision
from bot.domain.locale import Locale
from bot.domain.matcher import Command
from bot.guidance.answer import choose_locale
from bot.teams.actions import ActionDispatcher, ActionRequest, ActionResult, InvalidAction
from bot.teams.identity import ChatReferences, Sender
from bot.teams.incidents import CommandHandler, person_of
from bot.teams.messenger import is_personal
from bot.teams.replies import send_card
from cards.i18n import t
from cards.notices import notice_element, text_card
from cards.verbs import Verb

log = logging.getLogger(__name__)


def register(
    app: AgentApplication[TurnState],
    actions: ActionDispatcher,
    escalations: Escalations,
    exports: Exports,
) -> dict[Command, CommandHandler]:
    """Add the escalation verbs and the before-turn hook; returns the ``setup`` command."""

    references = ChatReferences()

    @app.before_turn
    async def remember(context: TurnContext, _state: TurnState) -> bool:
        activity = context.activity
        if (
            activity.type in (ActivityTypes.message, ActivityTypes.invoke)
            and activity.from_property
        ):
            sender = Sender.of(activity)
            if sender.aad_object_id:
                reference = (
                    references.of(activity, choose_locale(activity.locale, activity.text or ""))
                    if is_personal(activity)
                    else None
                )
                # Off the reply path: a first contact's registration never delays the answer.
                escalations.remember_user_soon(
                    person_of(sender), teams_id=sender.teams_id, reference=reference
                )
        return True

    def incident_of(request: ActionRequest) -> str:
        incident_id = request.data.get("incident")
        if not isinstance(incident_id, str) or not incident_id.startswith("KH-"):
            raise InvalidAction("This card does not refer to a case.")
        return incident_id

    @actions.on(Verb.ESCALATION_REFRESH)
    async def refresh(_context: TurnContext, request: ActionRequest) -> ActionResult:
        card = await escalations.card_for(
            incident_of(request), person_of(request.sender), request.locale
        )
        return ActionResult(replace=card)

    async def decide(request: ActionRequest, decision: Decision) -> ActionResult:
        outcome = await escalations.decide(
            incident_of(request),
            person_of(request.sender),
            decision,
            request.data,
            request.locale,
            # Opened for the access check just now: neither is asked for again.
            known=request.open_case.incident,
            roles=request.open_case.viewer,
        )
        return ActionResult(replace=outcome.card)

    @actions.on(Verb.ESCALATION_APPROVE)
    async def approve(_context: TurnContext, request: ActionRequest) -> ActionResult:
        return await decide(request, Decision.APPROVE)

    @actions.on(Verb.ESCALATION_REJECT)
    async def reject(_context: TurnContext, request: ActionRequest) -> ActionResult:
        return await decide(request, Decision.REJECT)

    @actions.on(Verb.ESCALATION_EXPORT)
    async def export(_context: TurnContext, request: ActionRequest) -> ActionResult:
        incident_id = incident_of(request)
        person = person_of(request.sender)
        card = await escalations.card_for(incident_id, person, request.locale)
        if not request.open_case.may(CaseAction.EXPORT):
            card["body"].insert(1, notice_element("esc.not_manager", request.locale))
            return ActionResult(replace=card)
        await exports.request(incident_id, person)
        # Say now if the link cannot reach them, and how to fix it (the thread says it too).
        reachable = await escalations.notices.reachable(person.object_id)
        queued = "export.file.queued" if exports.by_file else "export.queued"
        key = queued if reachable else "export.queued.unreachable"
        card["body"].insert(1, notice_element(key, request.locale))
        return ActionResult(replace=card)

    @actions.on(Verb.ESCALATION_RESUME)
    async def resume(_context: TurnContext, request: ActionRequest) -> ActionResult:
        job_id = request.data.get("job")
        if not isinstance(job_id, str) or not job_id:
            raise InvalidAction("This card does not refer to a job.")
        outcome = await escalations.resume_job(
            incident_of(request), job_id, person_of(request.sender), request.locale
        )
        return ActionResult(replace=outcome.card)

    async def setup(context: TurnContext, locale: Locale) -> None:
        activity = context.activity
        sender = Sender.of(activity)
        conversation = activity.conversation
        if conversation is None or conversation.conversation_type != "channel":
            await send_card(context, text_card(t("esc.setup.personal", locale)))
            return
        viewer = await escalations.viewer(person_of(sender))
        if not viewer.is_manager:
            log.info("setup refused for a non-manager")
            await send_card(context, text_card(t("esc.setup.refused", locale)))
            return
        channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        channel_id = (channel_data.get("channel") or {}).get("id") or conversation.id.split(";")[0]
        # The channel becomes the managers' channel of the department(s) the sender manages.
        departments = sorted(viewer.managed_departments)
        waiting = 0
        for department in departments:
            waiting += await escalations.register_channel(
                department,
                channel_id=channel_id,
                service_url=activity.service_url or "",
                tenant_id=sender.tenant_id,
                by=person_of(sender),
            )
        names = "、".join(escalations.department_name(d) for d in departments)
        message = t("esc.setup.done", locale, department=names)
        if waiting:  # cases reported before this setup: their escalation jobs are queued
            message += "\n\n" + t("esc.setup.pending", locale, count=waiting)
        await send_card(context, text_card(message))

    return {Command.SETUP: setup}
