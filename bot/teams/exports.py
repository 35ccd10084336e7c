"""The "get a new link" button of an evidence bundle: only its requester gets a link.

In the personal chat the link replaces the card; in the thread it goes to the clicker's
view of the card (an invoke answer is shown to the person who clicked) and, when Mamoru
can reach them, to their personal chat as well. Anyone else is told the bundle is not
theirs (or "not found" if they may not see the case at all).
"""

from __future__ import annotations

import logging

from microsoft_agents.hosting.core import TurnContext

from bot.domain.errors import IncidentNotFound
from bot.escalation import Escalations
from bot.exports import LINK_LIFETIME, Exports, LinkRefused
from bot.teams.actions import ActionDispatcher, ActionRequest, ActionResult, InvalidAction
from bot.teams.incidents import person_of
from bot.teams.messenger import is_personal
from cards.exports import export_notice_card, export_ready_card
from cards.verbs import Verb

log = logging.getLogger(__name__)


def register(actions: ActionDispatcher, exports: Exports, escalations: Escalations) -> None:
    """Add the verb that mints a download link for the bundle's requester."""

    @actions.on(Verb.EXPORT_LINK)
    async def new_link(context: TurnContext, request: ActionRequest) -> ActionResult:
        export_id = request.data.get("export")
        if not isinstance(export_id, str) or not export_id:
            raise InvalidAction("This card does not refer to an evidence bundle.")
        person = person_of(request.sender)
        try:
            link = await exports.mint(export_id, person)
        except LinkRefused as refused:
            if refused.reason == "not-found":
                raise IncidentNotFound(str(request.data.get("incident", ""))) from None
            key = "export.not_yours" if refused.reason == "not-yours" else "export.expired"
            log.info("export link refused: %s", refused.reason)
            return ActionResult(replace=export_notice_card(key, request.locale))
        minutes = int(LINK_LIFETIME.total_seconds() // 60)
        card = export_ready_card(
            link.incident_id,
            export_id,
            link.by_name,
            link.url,
            minutes,
            request.locale,
            title=link.name,
        )
        if is_personal(context.activity):
            return ActionResult(replace=card)
        # In the thread: the clicker's own view gets the link; a copy goes to their chat.
        # Each is a separate single-use link, so neither copy can use up the other.
        second = await exports.mint(export_id, person)
        reached = await escalations.send_to(
            person.object_id,
            lambda locale: export_ready_card(
                second.incident_id,
                export_id,
                second.by_name,
                second.url,
                minutes,
                locale,
                title=second.name,
            ),
        )
        note = "export.sent" if reached else "export.unreachable"
        card["body"].append(export_notice_card(note, request.locale, minutes=minutes)["body"][0])
        return ActionResult(replace=card)
