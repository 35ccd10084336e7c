"""「集計」: the organisation's figures for managers and the legal section."""

from __future__ import annotations

from microsoft_agents.hosting.core import TurnContext

from bot.cases.escalation import Escalations
from bot.cases.figures import OrgFiguresService, fiscal_year_start
from bot.domain.locale import Locale
from bot.domain.matcher import Command
from bot.teams.identity import Sender
from bot.teams.incidents import CommandHandler, person_of
from bot.teams.replies import send_card
from cards.figures import figures_card
from cards.i18n import t
from cards.notices import text_card


def register(
    figures: OrgFiguresService,
    escalations: Escalations,
    *,
    departments: dict[str, str],
) -> dict[Command, CommandHandler]:
    """The 「集計」 command: this fiscal year so far."""

    async def show(context: TurnContext, locale: Locale) -> None:
        viewer = await escalations.viewer(person_of(Sender.of(context.activity)))
        if not (viewer.is_manager or viewer.is_legal):
            await send_card(context, text_card(t("fig.managers_only", locale)))
            return
        today = figures.today()
        found = await figures.figures(fiscal_year_start(today), today, viewer=viewer)
        await send_card(context, figures_card(found, locale, departments=departments))

    return {Command.FIGURES: show}
