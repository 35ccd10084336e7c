"""Installation, unsupported activities and turn errors: every activity gets a proper answer.

The SDK logs the text of any activity no route matches, so a catch-all route
exists for every type: message text must never reach the logs.
"""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus

from microsoft_agents.activity import ActivityTypes
from microsoft_agents.hosting.core import AgentApplication, TurnContext, TurnState
from microsoft_agents.hosting.core.app._routes.route_rank import RouteRank

from bot.domain.locale import Locale
from bot.domain.playbooks import PlaybookLibrary
from bot.teams.replies import answer_invoke_error, send_card
from cards.menu import welcome_card
from cards.notices import error_card, notice_card

log = logging.getLogger(__name__)


def register(app: AgentApplication[TurnState], library: PlaybookLibrary) -> None:
    """Add the welcome, fallback and error handling routes to ``app``."""

    def bot_was_added(context: TurnContext) -> bool:
        activity = context.activity
        if activity.type != ActivityTypes.conversation_update or not activity.members_added:
            return False
        bot_id = activity.recipient.id if activity.recipient else None
        return any(m.id == bot_id for m in activity.members_added)

    async def welcome(context: TurnContext, _state: TurnState) -> None:
        conversation = context.activity.conversation
        # Welcome people in their personal chat; in a team channel Mamoru stays quiet.
        if conversation and conversation.conversation_type not in (None, "personal"):
            return
        locale = Locale.from_tag(context.activity.locale)
        await send_card(context, welcome_card(library, locale))

    app.add_route(bot_was_added, welcome, rank=RouteRank.DEFAULT)

    def any_invoke(context: TurnContext) -> bool:
        return context.activity.type == ActivityTypes.invoke

    async def unknown_invoke(context: TurnContext, _state: TurnState) -> None:
        log.info("unsupported invoke received")
        await answer_invoke_error(
            context, HTTPStatus.NOT_IMPLEMENTED, "Mamoru does not support this action."
        )

    app.add_route(any_invoke, unknown_invoke, is_invoke=True, rank=RouteRank.LAST)

    def unsupported_message(context: TurnContext) -> bool:
        return context.activity.type == ActivityTypes.message

    async def say_unsupported(context: TurnContext, _state: TurnState) -> None:
        locale = Locale.from_tag(context.activity.locale)
        await send_card(context, notice_card("app.name", "unsupported.body", locale))

    app.add_route(unsupported_message, say_unsupported, rank=RouteRank.LAST)

    async def ignore(_context: TurnContext, _state: TurnState) -> None:
        return None

    # Everything else (typing, reactions, other conversation updates...) needs no answer.
    app.add_route(lambda _context: True, ignore, rank=RouteRank.LAST)

    @app.error
    async def on_error(context: TurnContext, error: Exception) -> None:
        reference = uuid.uuid4().hex[:10]
        # The type and reference only: an exception message may quote what a user wrote.
        log.error("turn failed: %s (reference %s)", type(error).__name__, reference)
        locale = Locale.from_tag(context.activity.locale)
        if context.activity.type == ActivityTypes.invoke:
            await answer_invoke_error(
                context, HTTPStatus.INTERNAL_SERVER_ERROR, f"Mamoru failed (reference {reference})."
            )
        else:
            await send_card(context, error_card(locale, reference))
