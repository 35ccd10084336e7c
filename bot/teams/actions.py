"""One dispatcher for every Action.Execute click (invoke ``adaptiveCard/action``).

Features register a handler per verb. The dispatcher validates the invoke,
answers malformed or unknown ones with a clear response (never a 501, which
Teams shows as "Unable to reach app"), and sends the handler's result: the
card that replaces the clicked one, plus any new messages.

Access control happens here, once for every verb: a click whose data names a case
(``incident`` or ``case``) opens it through ``CaseAccess`` before any handler runs,
so a verb added later is checked by construction. Someone who may not see the case
gets the same "case not found" card as for an id that does not exist; the handler
gets the case and the clicker's roles in ``ActionRequest.case`` and asks it for
anything beyond seeing (``case.may(CaseAction.DECIDE)``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from microsoft_agents.activity import ActivityTypes
from microsoft_agents.hosting.core import TurnContext

from bot.case_access import CaseAccess, CaseRefused, OpenCase
from bot.domain.errors import AccessDenied, IncidentNotFound, InvalidIncidentId
from bot.domain.incidents import parse_incident_id
from bot.domain.locale import Locale
from bot.teams.identity import Sender, person_of
from bot.teams.messenger import in_personal_chat
from bot.teams.replies import answer_invoke_error, answer_invoke_with_card, send_card
from cards.i18n import t
from cards.notices import notice_card, notice_element
from cards.verbs import Verb

log = logging.getLogger(__name__)
ACTION_INVOKE = "adaptiveCard/action"
CASE_KEYS = ("incident", "case")  # where card data names a case
_REFUSAL_NOTICES = {"not-a-manager": "esc.not_manager", "own-case": "esc.own_case"}
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """A validated click: the verb, its data, the language and who clicked."""

    verb: Verb
    data: dict[str, Any]
    locale: Locale
    sender: Sender
    trigger: str  # "manual" for a click, "automatic" for a card refresh
    case: OpenCase | None = None  # the case the data names, opened for the clicker

    @property
    def open_case(self) -> OpenCase:
        """The case the click is about (the verb's data must name one)."""
        if self.case is None:
            raise InvalidAction("This card does not refer to a case.")
        return self.case


@dataclass(slots=True)
class ActionResult:
    """What a click produces: the card replacing the clicked one, and new messages.

    ``send`` arrives below the clicked card in a personal chat; after a click in a channel
    or group chat it goes to the clicker's personal chat instead (never to everyone there).
    """

    replace: dict[str, Any]
    send: list[dict[str, Any]] = field(default_factory=list)


class InvalidAction(Exception):
    """The click's data is not what the verb expects; the message is shown to the user."""


ActionHandler = Callable[[TurnContext, ActionRequest], Awaitable[ActionResult]]
# A card in someone's personal chat (Entra object id, card per locale); False if unreachable.
SendPrivately = Callable[[str, Callable[[Locale], dict[str, Any]]], Awaitable[bool]]


class ActionDispatcher:
    """Routes Action.Execute verbs to their handlers."""

    def __init__(self, cases: CaseAccess, privately: SendPrivately | None = None) -> None:
        self._handlers: dict[Verb, ActionHandler] = {}
        self._cases = cases
        self._privately = privately  # StaffNotices.send_to: the person's personal chat

    def on(self, verb: Verb) -> Callable[[ActionHandler], ActionHandler]:
        """Register the handler of ``verb`` (one handler per verb)."""

        def register(handler: ActionHandler) -> ActionHandler:
            if verb in self._handlers:
                raise ValueError(f"verb {verb} already has a handler")
            self._handlers[verb] = handler
            return handler

        return register

    @staticmethod
    def selects(context: TurnContext) -> bool:
        """Whether the activity is an Action.Execute invoke."""
        activity = context.activity
        return activity.type == ActivityTypes.invoke and activity.name == ACTION_INVOKE

    async def handle(self, context: TurnContext, _state: object) -> None:
        """Validate, dispatch and answer one Action.Execute invoke."""
        activity = context.activity
        value = activity.value if isinstance(activity.value, dict) else None
        action = value.get("action") if value else None
        if not isinstance(action, dict) or action.get("type") != "Action.Execute":
            await answer_invoke_error(
                context, HTTPStatus.BAD_REQUEST, "The card action is not a valid Action.Execute."
            )
            return
        data = action.get("data") or {}
        if not isinstance(data, dict):
            await answer_invoke_error(
                context, HTTPStatus.BAD_REQUEST, "The card action carries malformed data."
            )
            return
        locale = Locale.from_tag(
            data.get("locale") if isinstance(data.get("locale"), str) else activity.locale
        )
        try:
            verb = Verb(action.get("verb"))
            handler = self._handlers[verb]
        except (ValueError, KeyError):
            log.info("unknown card verb received")
            await answer_invoke_with_card(
                context, notice_card("unknown_action.title", "unknown_action.body", locale)
            )
            return
        sender = Sender.of(activity)
        try:
            request = ActionRequest(
                verb=verb,
                data=data,
                locale=locale,
                sender=sender,
                trigger=str(value.get("trigger") or "manual") if value else "manual",
                case=await self._open_case(data, sender),
            )
            result = await handler(context, request)
        except InvalidAction as exc:
            log.info("invalid data for card verb %s", verb.value)
            await answer_invoke_error(context, HTTPStatus.BAD_REQUEST, _shown(str(exc), locale))
            return
        except (IncidentNotFound, AccessDenied):
            # Same answer for both: whether a case exists is itself not for everyone to know.
            log.info("card verb %s on an unknown or forbidden case", verb.value)
            await answer_invoke_with_card(
                context, notice_card("app.name", "incident.unknown", locale)
            )
            return
        except CaseRefused as refused:
            log.info("card verb %s refused: %s", verb.value, refused.reason.value)
            await answer_invoke_with_card(
                context, notice_card("app.name", _REFUSAL_NOTICES[refused.reason.value], locale)
            )
            return
        replace = result.replace
        if in_personal_chat(activity):
            for card in result.send:
                await send_card(context, card)
        elif result.send:
            # In a channel or group chat, a card following a click (model replies, "talk to
            # my manager", the report form) would tell everyone there that this person
            # asked for help: it goes to their personal chat, and the answer to the click
            # (shown to the clicker alone) says where it went, or that it could not.
            reached = await self._send_privately(person_of(sender).object_id, result.send)
            note = "private.sent" if reached else "private.unreachable"
            replace = {**replace, "body": [*replace["body"], notice_element(note, locale)]}
        await answer_invoke_with_card(context, replace)

    async def _send_privately(self, object_id: str, cards: list[dict[str, Any]]) -> bool:
        if self._privately is None or not object_id:
            return False
        for card in cards:
            if not await self._privately(object_id, lambda _locale, card=card: card):
                return False
        return True

    async def _open_case(self, data: dict[str, Any], sender: Sender) -> OpenCase | None:
        named = [data[k] for k in CASE_KEYS if data.get(k) not in (None, "")]
        if not named:
            return None
        if len(set(map(str, named))) != 1 or not all(isinstance(n, str) for n in named):
            raise InvalidAction("This card does not refer to a case.")
        try:
            parse_incident_id(named[0])
        except InvalidIncidentId:
            raise InvalidAction("This card does not refer to a case.") from None
        return await self._cases.open(named[0], person_of(sender))


def _shown(message: str, locale: Locale) -> str:
    """What a refused click says: in Japanese first when the reason was written in English."""
    if locale is Locale.JA and not _JAPANESE.search(message):
        return f"{t('unknown_action.body', locale)}（{message}）"
    return message
