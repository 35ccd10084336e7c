"""Fixtures: the demo office's Graph sandbox and the bot watching two of its mailboxes."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.app import FLOOD, build_app
from bot.config import Settings
from bot.flood.watch import FloodWatch
from graph.sandbox import RunningSandbox, Tenant, make_sandbox, seed_demo, start_sandbox
from graph.sandbox.routes_changes import ChangeFeeds, feeds_of
from graph.sandbox.seed import (
    DEMO_DEPARTMENT_MAILBOX,
    DEMO_MAILBOX,
    DEMO_MANAGERS_GROUP_ID,
    DEMO_USER_IDS,
)
from tests.support.connector import start_connector
from tests.teams.conftest import BotUnderTest

STAFF = {"user_aad": DEMO_USER_IDS[DEMO_MAILBOX], "user_id": "29:tanaka", "user_name": "田中 花子"}
SUZUKI = {
    "user_aad": DEMO_USER_IDS["suzuki@city.example.jp"],
    "user_id": "29:suzuki",
    "user_name": "鈴木 次郎",
    "conversation_id": "a:personal-suzuki",
}
KACHO = {
    "user_aad": DEMO_USER_IDS["kacho@city.example.jp"],
    "user_id": "29:kacho",
    "user_name": "高橋 課長",
    "conversation_id": "a:personal-kacho",
}


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.at = dt.datetime.now(dt.UTC)

    def now(self) -> dt.datetime:
        return self.at


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    tenant = Tenant()
    seed_demo(tenant, flood=0)  # ordinary mail only in 田中's inbox; 40 spread over 3 days
    running = await start_sandbox(make_sandbox(tenant))
    yield running
    for sub in list(feeds_of(tenant).subscriptions):
        del feeds_of(tenant).subscriptions[sub]  # ends the sandbox's notifier loop
    await running.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def departments() -> str:
    """MAMORU_DEPARTMENTS for the bot (empty: one department, the managers' group)."""
    return ""


@pytest.fixture
def department_of_mailbox() -> str:
    """The department whose managers answer for the department mailbox's floods."""
    return "default"


@pytest.fixture
async def bot(
    tmp_path: Path,
    sandbox: RunningSandbox,
    clock: Clock,
    departments: str,
    department_of_mailbox: str,
) -> AsyncIterator[BotUnderTest]:
    """The bot watching both mailboxes, reachable by the sandbox's notifications."""
    port = _free_port()
    settings = Settings(
        allow_anonymous=True,
        data_dir=tmp_path,
        graph_sandbox_url=sandbox.root_url,
        graph_sandbox_embedded=False,
        manager_group_id="" if departments else DEMO_MANAGERS_GROUP_ID,
        flood_mailboxes=(
            f"{DEMO_MAILBOX}={DEMO_USER_IDS[DEMO_MAILBOX]},"
            f"{DEMO_DEPARTMENT_MAILBOX}=dept:{department_of_mailbox}"
        ),
        flood_notification_base_url=f"http://127.0.0.1:{port}",
        departments=departments,
        _env_file=None,
    )
    connector, connector_server = await start_connector()
    app = build_app(settings, run_jobs=False, clock=clock)
    app[FLOOD].debounce = 0.0
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield BotUnderTest(
            url=str(server.make_url("")).rstrip("/"),
            connector=connector,
            connector_url=str(connector_server.make_url("")).rstrip("/"),
            http=http,
            app=app,
            app_data_dir=settings.data_dir,
        )
    await server.close()
    await connector_server.close()


def watch_of(bot: BotUnderTest) -> FloodWatch:
    """The bot's flood watch."""
    return bot.app[FLOOD]


def feeds(sandbox: RunningSandbox) -> ChangeFeeds:
    """The sandbox's delta cursors and subscriptions."""
    return feeds_of(sandbox.sandbox.tenant)


def flood_cards(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The flood alert cards among ``cards``."""
    return [c for c in cards if any(a.get("verb") == "flood.start" for a in c.get("actions", []))]
