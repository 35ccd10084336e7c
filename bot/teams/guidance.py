"""Guidance in Teams: free text, the menu, playbooks, model replies, "talk to my manager"."""

from __future__ import annotations

import re
from typing import Any

from microsoft_agents.activity import ActivityTypes
from microsoft_agents.hosting.core import AgentApplication, TurnContext, TurnState
from microsoft_agents.hosting.core.app._routes.route_rank import RouteRank

from bot.domain.matcher import Command
from bot.domain.playbooks import Playbook
from bot.domain.triage import TriageRecord
from bot.guidance.answer import Guide, choose_locale
from bot.teams.actions import ActionDispatcher, ActionRequest, ActionResult, InvalidAction
from bot.teams.replies import send_card
from cards.guidance import scripts_card
from cards.menu import MenuReason, menu_card
from cards.notices import manager_card
from cards.verbs import Verb

_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)

# Commands answered by other features (incidents); they register a handler here.
CommandHandler = Any


def register(
    app: AgentApplication[TurnState],
    actions: ActionDispatcher,
    guide: Guide,
    commands: dict[Command, CommandHandler] | None = None,
) -> None:
    """Add the guidance routes and card verbs to ``app``."""
    command_handlers = commands or {}

    def is_text_message(context: TurnContext) -> bool:
        activity = context.activity
        # Action.Submit posts a message with a value and no text: not free text.
        return activity.type == ActivityTypes.message and not (activity.value and not activity.text)

    async def on_message(context: TurnContext, _state: TurnState) -> None:
        # In channels Teams prefixes "<at>Mamoru</at>"; the mention is not part of the request.
        text = _MENTION.sub(" ", context.activity.text or "")
        locale = choose_locale(context.activity.locale, text)
        answer = guide.answer(text, locale)
        if answer.command in command_handlers:
            await command_handlers[answer.command](context, locale)
            return
        await send_card(context, answer.card)

    app.add_route(is_text_message, on_message, rank=RouteRank.DEFAULT)

    def playbook_of(request: ActionRequest) -> Playbook:
        playbook_id = request.data.get("playbook")
        playbook = guide.library.get(playbook_id) if isinstance(playbook_id, str) else None
        if playbook is None:
            raise InvalidAction("This card refers to a situation Mamoru does not know.")
        return playbook

    def triage_of(request: ActionRequest) -> TriageRecord:
        # How the message that led to this card was read; passed on to the next card.
        return TriageRecord.from_data(request.data.get("triage"))

    @actions.on(Verb.SHOW_MENU)
    async def show_menu(_context: TurnContext, request: ActionRequest) -> ActionResult:
        return ActionResult(replace=menu_card(guide.library, request.locale, MenuReason.ASKED))

    @actions.on(Verb.SHOW_PLAYBOOK)
    async def show_playbook(_context: TurnContext, request: ActionRequest) -> ActionResult:
        playbook = playbook_of(request)
        return ActionResult(
            replace=guide.card_for(playbook, request.locale, triage=triage_of(request))
        )

    @actions.on(Verb.SHOW_SCRIPTS)
    async def show_scripts(_context: TurnContext, request: ActionRequest) -> ActionResult:
        playbook = playbook_of(request)
        script_id = request.data.get("script")
        selected = playbook.script(script_id) if isinstance(script_id, str) else None
        triage = triage_of(request)
        # The guidance stays in view; the model replies arrive as a new message below it.
        return ActionResult(
            replace=guide.card_for(playbook, request.locale, triage=triage),
            send=[scripts_card(playbook, request.locale, selected=selected, triage=triage)],
        )

    @actions.on(Verb.TALK_TO_MANAGER)
    async def talk_to_manager(_context: TurnContext, request: ActionRequest) -> ActionResult:
        playbook_id = request.data.get("playbook")
        playbook = guide.library.get(playbook_id) if isinstance(playbook_id, str) else None
        replace = (
            guide.card_for(playbook, request.locale, triage=triage_of(request))
            if playbook
            else menu_card(guide.library, request.locale, MenuReason.ASKED)
        )
        return ActionResult(
            replace=replace,
            send=[manager_card(request.locale, playbook_id=playbook.id if playbook else None)],
        )
