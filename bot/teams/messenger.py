"""Messages Mamoru sends on its own: new channel threads, proactive messages, card updates.

Works from stored conversation references (JSON), so jobs and reminders can reach
a staff member's personal chat or a case's thread after a restart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import TurnContext

from bot.teams.replies import card_activity

log = logging.getLogger(__name__)
BOT_FRAMEWORK_AUDIENCE = "https://api.botframework.com"


@dataclass(frozen=True, slots=True)
class Posted:
    """Where a message landed: its conversation and activity id (to update it later)."""

    conversation_id: str
    activity_id: str
    service_url: str


class Messenger:
    """Sends and updates cards outside of a user's turn."""

    def __init__(self, adapter: CloudAdapter, app_id: str) -> None:
        self._adapter = adapter
        self._app_id = app_id

    async def create_thread(
        self, *, channel_id: str, service_url: str, tenant_id: str, card: dict[str, Any]
    ) -> Posted:
        """Open a new thread in a Teams channel whose first message is ``card``."""
        created: dict[str, str] = {}
        parameters = ConversationParameters(
            is_group=True,
            agent=ChannelAccount(id=self._app_id or "mamoru"),
            channel_data={"channel": {"id": channel_id}},
            tenant_id=tenant_id or None,
            activity=card_activity(card),
        )

        async def capture(context: TurnContext) -> None:
            conversation = context.activity.conversation
            created["id"] = conversation.id if conversation else ""

        await self._adapter.create_conversation(
            self._app_id,
            "msteams",
            service_url,
            BOT_FRAMEWORK_AUDIENCE,
            parameters,
            capture,
        )
        conversation_id = created.get("id", "")
        # Teams names a channel thread "<channel>;messageid=<id of its first message>".
        activity_id = conversation_id.partition(";messageid=")[2] or conversation_id
        return Posted(conversation_id, activity_id, service_url)

    async def send(self, reference: dict[str, Any], card: dict[str, Any]) -> Posted:
        """Send ``card`` into the conversation ``reference`` points to."""
        return await self.send_activity(reference, card_activity(card))

    async def send_activity(self, reference: dict[str, Any], activity: Activity) -> Posted:
        """Send a message activity (a card, a file card...) to where ``reference`` points."""
        posted: dict[str, str] = {}

        async def send(context: TurnContext) -> None:
            response = await context.send_activity(activity)
            posted["id"] = response.id if response and response.id else ""

        ref = ConversationReference.model_validate(reference)
        await self._continue(ref, send)
        conversation_id = ref.conversation.id if ref.conversation else ""
        return Posted(conversation_id, posted.get("id", ""), ref.service_url or "")

    async def update(self, where: Posted, card: dict[str, Any]) -> None:
        """Replace the card of an earlier message for everyone in the conversation."""

        async def update(context: TurnContext) -> None:
            # A fresh activity: one carrying a timestamp fails to serialize in the SDK.
            activity = card_activity(card)
            activity.id = where.activity_id
            activity.conversation = ConversationAccount(id=where.conversation_id)
            await context.update_activity(activity)

        await self._continue(thread_reference(where), update)

    async def _continue(self, reference: ConversationReference, callback: Any) -> None:
        continuation = reference.get_continuation_activity()
        await self._adapter.continue_conversation(self._app_id, continuation, callback)


def thread_reference(where: Posted) -> ConversationReference:
    """A reference to a thread (or any conversation) from where a message was posted."""
    return ConversationReference(
        channel_id="msteams",
        service_url=where.service_url,
        conversation=ConversationAccount(id=where.conversation_id, is_group=True),
        agent=ChannelAccount(id="mamoru"),
    )


def reference_of(activity: Activity) -> dict[str, Any]:
    """The JSON conversation reference of an incoming activity (for proactive messages)."""
    reference = activity.get_conversation_reference()
    # Without the activity id, proactive messages arrive as new messages, not replies.
    return reference.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude={"activity_id", "request_id"}
    )


def is_personal(activity: Activity) -> bool:
    """Whether the activity is a message in a one-to-one chat with Mamoru."""
    return activity.type == ActivityTypes.message and in_personal_chat(activity)


def in_personal_chat(activity: Activity) -> bool:
    """Whether the activity (a message or a click) happened in a one-to-one chat with
    Mamoru: anything Mamoru sends back into that conversation only this person reads."""
    conversation = activity.conversation
    return conversation is None or conversation.conversation_type in (None, "personal")
