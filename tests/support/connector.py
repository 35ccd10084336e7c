"""A stand-in for the Bot Connector, shaped like the Agents Playground's mock connector.

It receives what the bot sends (POST/PUT activities, POST /v3/conversations for
new channel threads) and records it, so tests assert what a user would see.
Also builds the activities Teams would post to the bot.

Like the real connector, it only updates what exists: a PUT must name an activity posted in
that conversation (a thread's first message or a posted reply), else 404
``ActivityNotFound`` and nothing is recorded. Each update records which activity it
replaced (``Sent.activity_id``), so a test can tell the thread's card from another message.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Sent:
    """One activity the bot sent (or updated) in a conversation."""

    method: str
    conversation_id: str
    activity: dict[str, Any]
    activity_id: str = ""  # the id the connector gave (POST) or the one replaced (PUT)

    @property
    def cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards attached to it."""
        return [
            a["content"]
            for a in self.activity.get("attachments") or []
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]


@dataclass
class FakeConnector:
    """Records every call the bot makes to the connector."""

    sent: list[Sent] = field(default_factory=list)
    threads: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    # Attachments served as Teams serves pasted images: id -> (status, content type, bytes).
    files: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    downloads: list[dict[str, str]] = field(default_factory=list)  # {"id", "authorization"}
    # Activity ids that exist, per conversation id: what a PUT may replace.
    posted: dict[str, set[str]] = field(default_factory=dict)
    refused_updates: list[tuple[str, str]] = field(default_factory=list)  # (conversation, id)

    def app(self) -> web.Application:
        """The aiohttp app serving the connector's routes."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_post("/v3/conversations/{conv}/activities", self._post)
        app.router.add_post("/v3/conversations/{conv}/activities/{reply_to}", self._post)
        app.router.add_put("/v3/conversations/{conv}/activities/{activity_id}", self._put)
        app.router.add_get("/v3/attachments/{file}/views/{view}", self._attachment)
        return app

    async def _attachment(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file"]
        self.downloads.append(
            {"id": file_id, "authorization": request.headers.get("Authorization", "")}
        )
        if file_id not in self.files:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        status, content_type, data = self.files[file_id]
        return web.Response(status=status, body=data, content_type=content_type)

    def attachment_url(self, base_url: str, file_id: str) -> str:
        """Where the connector serves attachment ``file_id`` (as Teams' contentUrl)."""
        return f"{base_url}/v3/attachments/{file_id}/views/original"

    async def _create_conversation(self, request: web.Request) -> web.Response:
        params = await request.json()
        channel = ((params.get("channelData") or {}).get("channel") or {}).get("id")
        if not channel:
            return web.json_response({"error": {"code": "BadArgument"}}, status=400)
        message_id = str(next(self._ids))
        conversation_id = f"{channel};messageid={message_id}"
        self.threads.append({"id": conversation_id, "params": params})
        self._exists(conversation_id, message_id)
        self._exists(channel, message_id)  # the same message, addressed in the channel
        if params.get("activity"):
            self._record("POST", conversation_id, params["activity"], message_id)
        return web.json_response({"id": conversation_id, "activityId": message_id})

    async def _post(self, request: web.Request) -> web.Response:
        activity = await request.json()
        activity_id = activity.get("id") or f"bot-{next(self._ids)}"
        activity["id"] = activity_id
        self._exists(request.match_info["conv"], activity_id)
        self._record("POST", request.match_info["conv"], activity, activity_id)
        return web.json_response({"id": activity_id})

    async def _put(self, request: web.Request) -> web.Response:
        activity = await request.json()
        conversation, activity_id = request.match_info["conv"], request.match_info["activity_id"]
        if activity_id not in self.posted.get(conversation, set()):
            self.refused_updates.append((conversation, activity_id))
            return web.json_response(
                {"error": {"code": "ActivityNotFound", "message": "Activity not found"}},
                status=404,
            )
        self._record("PUT", conversation, activity, activity_id)
        return web.json_response({"id": activity_id})

    def _exists(self, conversation_id: str, activity_id: str) -> None:
        self.posted.setdefault(conversation_id, set()).add(activity_id)

    def _record(
        self, method: str, conversation_id: str, activity: dict[str, Any], activity_id: str
    ) -> None:
        self.sent.append(Sent(method, conversation_id, activity, activity_id))
        self._arrived.set()

    def cards(self) -> list[dict[str, Any]]:
        """Every card sent so far, in order."""
        return [c for s in self.sent for c in s.cards]

    def clear(self) -> None:
        """Forget what was sent (between steps of a test)."""
        self.sent.clear()


async def start_connector() -> tuple[FakeConnector, TestServer]:
    """Start a FakeConnector on a free loopback port."""
    connector = FakeConnector()
    server = TestServer(connector.app(), host="127.0.0.1")
    await server.start_server()
    return connector, server


def user_activity(
    service_url: str,
    *,
    text: str | None = None,
    locale: str = "ja-JP",
    user_aad: str = "aad-staff-1",
    user_id: str = "29:staff-1",
    user_name: str = "田中 花子",
    conversation_id: str = "a:personal-staff-1",
    conversation_type: str = "personal",
    **extra: Any,
) -> dict[str, Any]:
    """A message activity as Teams posts it from a personal chat."""
    activity: dict[str, Any] = {
        "type": "message",
        "id": str(uuid.uuid4()),
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": user_id, "name": user_name, "aadObjectId": user_aad},
        "conversation": {
            "id": conversation_id,
            "conversationType": conversation_type,
            "tenantId": "tenant-1",
        },
        "recipient": {"id": "28:mamoru", "name": "Mamoru"},
        "locale": locale,
    }
    if text is not None:
        activity["text"] = text
    activity.update(extra)
    return activity


def action_invoke(
    service_url: str, verb: str, data: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    """An ``adaptiveCard/action`` invoke as Teams posts it when a button is clicked."""
    activity = user_activity(service_url, **kwargs)
    activity.update(
        type="invoke",
        name="adaptiveCard/action",
        value={
            "action": {"type": "Action.Execute", "verb": verb, "data": data},
            "trigger": "manual",
        },
    )
    return activity


def file_consent_invoke(
    service_url: str,
    action: str,
    context: dict[str, Any],
    upload_info: dict[str, str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """A ``fileConsent/invoke`` as Teams posts it when a file consent card is answered.

    Teams returns the card's ``acceptContext`` (or ``declineContext``) as ``context`` and,
    on accept, the OneDrive upload session it made as ``uploadInfo``.
    """
    activity = user_activity(service_url, **kwargs)
    value: dict[str, Any] = {"type": "fileUpload", "action": action, "context": context}
    if upload_info is not None:
        value["uploadInfo"] = upload_info
    activity.update(type="invoke", name="fileConsent/invoke", value=value)
    return activity


MANAGERS_CHANNEL = "19:managers@thread.tacv2"


def in_channel(channel: str = MANAGERS_CHANNEL, **who: Any) -> dict[str, Any]:
    """Keyword arguments for ``user_activity``: a post in a Teams channel by ``who``."""
    return {
        "conversation_id": f"{channel};messageid=1",
        "conversation_type": "channel",
        "channelData": {"channel": {"id": channel}, "team": {"id": "team-1"}},
        **who,
    }
