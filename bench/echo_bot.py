"""A bare Agents SDK echo bot: the floor Mamoru's benchmark is compared against.

The same hosting as Mamoru (``bot/teams/hosting.py``): an ``AgentApplication``
with memory storage, a ``CloudAdapter`` whose connector clients send no token
(anonymous, local only), the SDK's JWT middleware and ``start_agent_process``.
It answers every message with its text and does nothing else.

Run: ``.venv/bin/python bench/echo_bot.py --port 3979`` (``bench/guidance.py``
starts it itself).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiohttp import web
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import (
    CloudAdapter,
    jwt_authorization_middleware,
    start_agent_process,
)
from microsoft_agents.hosting.core import (
    AgentApplication,
    AgentAuthConfiguration,
    MemoryStorage,
    TurnContext,
    TurnState,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.teams.hosting import AnonymousClientFactory


def build_echo_app() -> web.Application:
    """The echo bot as an aiohttp application, anonymous."""
    config = AgentAuthConfiguration(anonymous_allowed=True)
    connections = MsalConnectionManager(connections_configurations={"SERVICE_CONNECTION": config})
    adapter = CloudAdapter(channel_service_client_factory=AnonymousClientFactory(connections))
    agent = AgentApplication[TurnState](storage=MemoryStorage(), connection_manager=connections)

    @agent.activity("message")
    async def echo(context: TurnContext, _state: TurnState) -> None:
        await context.send_activity(context.activity.text or "")

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await start_agent_process(request, agent, adapter)
        return response if response is not None else web.Response(status=202)

    app = web.Application(middlewares=[jwt_authorization_middleware])
    app["agent_configuration"] = config
    app.router.add_post("/api/messages", messages)
    return app


def main() -> None:
    """Serve the echo bot on 127.0.0.1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3979)
    args = parser.parse_args()
    web.run_app(build_echo_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
