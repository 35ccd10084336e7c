"""Incident reporting from Teams: the report button and the typed commands.

Until the incident store is wired in, reporting answers honestly that it is not
available yet and tells the person what to do meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from microsoft_agents.hosting.core import AgentApplication, TurnContext, TurnState

from bot.domain.locale import Locale
from bot.domain.matcher import Command
from bot.teams.actions import ActionDispatcher, ActionRequest, ActionResult
from bot.teams.replies import send_card
from cards.notices import manager_card, notice_card
from cards.verbs import Verb

CommandHandler = Callable[[TurnContext, Locale], Awaitable[None]]


def register(
    _app: AgentApplication[TurnState], actions: ActionDispatcher
) -> dict[Command, CommandHandler]:
    """Add the reporting verbs; returns the typed commands this feature answers."""

    @actions.on(Verb.REPORT_OPEN)
    async def open_report(_context: TurnContext, request: ActionRequest) -> ActionResult:
        playbook_id = request.data.get("playbook")
        return ActionResult(
            replace=manager_card(
                request.locale, playbook_id=playbook_id if isinstance(playbook_id, str) else None
            ),
            send=[notice_card("action.report", "report.unavailable", request.locale)],
        )

    async def report_command(context: TurnContext, locale: Locale) -> None:
        await send_card(context, notice_card("action.report", "report.unavailable", locale))

    return {Command.REPORT: report_command, Command.MY_INCIDENTS: report_command}
