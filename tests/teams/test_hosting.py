"""What the bot's connector clients put on the wire: the JSON ``json.dumps`` would have sent."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from microsoft_agents.activity import ChannelAccount, ConversationAccount
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.core import AgentAuthConfiguration
from microsoft_agents.hosting.core.authorization import ClaimsIdentity

from bot.app import build_guide
from bot.config import Settings
from bot.domain.locale import Locale
from bot.teams.hosting import AnonymousClientFactory
from bot.teams.replies import card_activity


async def test_a_guidance_card_reaches_the_connector_as_the_same_json_in_utf8() -> None:
    received: list[tuple[str, bytes]] = []

    async def reply(request: web.Request) -> web.Response:
        received.append((request.headers.get("Content-Type", ""), await request.read()))
        return web.json_response({"id": "reply-1"})

    connector = web.Application()
    connector.router.add_post("/v3/conversations/{conv}/activities/{reply_to}", reply)
    server = TestServer(connector)
    await server.start_server()
    config = AgentAuthConfiguration(anonymous_allowed=True)
    factory = AnonymousClientFactory(
        MsalConnectionManager(connections_configurations={"SERVICE_CONNECTION": config})
    )
    # A frozen (shared) card with Japanese text and the triage confidence, a float.
    card = (
        build_guide(Settings(_env_file=None))
        .answer("Xで実名を出されて悪口を書かれています", Locale.JA)
        .card
    )
    activity = card_activity(card)
    activity.conversation = ConversationAccount(id="a:personal")
    activity.recipient = ChannelAccount(id="29:staff", name="田中 花子")
    try:
        client = await factory.create_connector_client(
            None, ClaimsIdentity({}, False), str(server.make_url("")), "audience"
        )
        try:
            await client.conversations.reply_to_activity("a:personal", "in-1", activity)
        finally:
            await client.close()
    finally:
        await server.close()

    [(content_type, body)] = received
    assert content_type.startswith("application/json")
    sent: dict[str, Any] = json.loads(body.decode("utf-8"))
    expected = activity.model_dump(
        by_alias=True, exclude_unset=True, exclude_none=True, mode="json"
    )
    assert sent == json.loads(json.dumps(expected))  # what the SDK's own encoder sends
    assert sent["attachments"][0]["content"] == json.loads(json.dumps(card))
    assert card["body"][0]["text"].encode("utf-8") in body  # Japanese as UTF-8, not \u escapes
