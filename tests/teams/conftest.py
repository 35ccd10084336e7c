"""Fixtures: the whole bot over HTTP, talking to a fake Bot Connector."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.app import SERVICES, Services, build_app
from bot.config import Settings
from tests.store.backends import _create_database, _drop_database, run_in_thread
from tests.support.connector import FakeConnector, action_invoke, start_connector, user_activity

FIXTURE_PLAYBOOKS = Path(__file__).parent.parent / "fixtures" / "playbooks"

# The office of the two-manager tests: two managers, one of their staff, someone else.
MANAGER_1 = {"user_aad": "aad-manager-1", "user_id": "29:manager-1", "user_name": "山田 課長"}
MANAGER_2 = {"user_aad": "aad-manager-2", "user_id": "29:manager-2", "user_name": "佐藤 係長"}
STAFF = {"user_aad": "aad-staff-1", "user_id": "29:staff-1", "user_name": "田中 花子"}
OUTSIDER = {"user_aad": "aad-other", "user_id": "29:other", "user_name": "鈴木"}


@dataclass
class BotUnderTest:
    """The running bot, its fake connector and an HTTP client."""

    url: str
    connector: FakeConnector
    connector_url: str
    http: aiohttp.ClientSession
    app: web.Application
    app_data_dir: Path

    @property
    def services(self) -> Services:
        """The bot's running pieces (job runner, escalations, persistence)."""
        return self.app[SERVICES]

    async def report(
        self,
        *,
        submission_id: str,
        type: str,
        what_happened: str,
        counterpart: str = "",
        **who: Any,
    ) -> str:
        """Submit the report form as ``who`` (after a first message); returns the case id."""
        await self.say("こんにちは", **who)  # Teams installs the app before anyone reports
        data = {
            "submission_id": submission_id,
            "type": type,
            "what_happened": what_happened,
            "counterpart": counterpart,
            "locale": "ja",
        }
        _, body, _ = await self.click("incident.report.submit", data, **who)
        title = body["value"]["body"][0]["text"]
        match = re.search(r"KH-\d{4}-\d{4,}", title)
        assert match, title
        return match.group(0)

    async def run_jobs(self) -> int:
        """Run every due job now (the bot under test does not poll), then the card updates."""
        ran = await self.services.runner.run_until_idle()
        await self.services.escalations.drain()  # the coalesced refresh of the thread's card
        return ran

    async def post(self, activity: dict[str, Any], **headers: str) -> aiohttp.ClientResponse:
        """POST one activity to /api/messages."""
        async with self.http.post(f"{self.url}/api/messages", json=activity, headers=headers) as r:
            await r.read()
            return r

    async def say(self, text: str | None, **kwargs: Any) -> list[dict[str, Any]]:
        """Send a message as a staff member; returns the cards the bot answered with."""
        self.connector.clear()
        response = await self.post(user_activity(self.connector_url, text=text, **kwargs))
        assert response.status in (200, 202), response.status
        # Work after the answer (a first contact's registration) has then been done too.
        await self.services.escalations.drain()
        return self.connector.cards()

    async def click(
        self, verb: str, data: dict[str, Any], **kwargs: Any
    ) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        """Click a card button: (HTTP status, invoke response body, new cards sent)."""
        self.connector.clear()
        activity = action_invoke(self.connector_url, verb, data, **kwargs)
        async with self.http.post(f"{self.url}/api/messages", json=activity) as r:
            body = await r.json(content_type=None)
        # Updates that follow the answer (the thread's card, notices) have then arrived too.
        await self.services.escalations.drain()
        return r.status, body or {}, self.connector.cards()


async def start_bot(settings: Settings, **kwargs: Any) -> AsyncIterator[BotUnderTest]:
    """Run the bot built from ``settings`` next to a fake connector (jobs run on demand)."""
    connector, connector_server = await start_connector()
    connector_url = str(connector_server.make_url("")).rstrip("/")
    if settings.has_bot_identity and not settings.connector_origins:
        # With an identity the bot accepts only Microsoft's connector hosts (https, never
        # loopback): the stand-in connector must be named, as an operator would name one.
        settings = settings.model_copy(update={"connector_origins": connector_url})
    app = build_app(settings, run_jobs=False, **kwargs)
    app[SERVICES].escalations.refresh_every = 0.05  # coalescing, at test speed
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield BotUnderTest(
            url=str(server.make_url("")).rstrip("/"),
            connector=connector,
            connector_url=connector_url,
            http=http,
            app=app,
            app_data_dir=settings.data_dir,
        )
    await server.close()
    await connector_server.close()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def start_bot_on(
    request: pytest.FixtureRequest, settings: Callable[[str], Settings]
) -> AsyncIterator[BotUnderTest]:
    """The bot on ``request.param``'s database (a fixture parametrized with ``BACKENDS``):
    SQLite, or a fresh PostgreSQL database dropped afterwards; ``settings(database_url)``."""
    database_url, name = "", ""
    if request.param == "postgres":
        request.getfixturevalue("postgres_url")  # skips (or fails in CI) without a server
        database_url, name = run_in_thread(_create_database())
    try:
        async for running in start_bot(settings(database_url)):
            yield running
    finally:
        if name:
            run_in_thread(_drop_database(name))


def two_managers(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings of an anonymous bot whose managers are ``MANAGER_1`` and ``MANAGER_2``."""
    return Settings(
        allow_anonymous=True,
        data_dir=tmp_path,
        manager_ids=f"{MANAGER_1['user_aad']},{MANAGER_2['user_aad']}",
        graph_sandbox_embedded=False,
        _env_file=None,
        **overrides,
    )


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    """The bot with the shipped playbooks, anonymous (as in a local run)."""
    settings = Settings(
        allow_anonymous=True, data_dir=tmp_path, graph_sandbox_embedded=False, _env_file=None
    )
    async for running in start_bot(settings):
        yield running


@pytest.fixture
async def sample_bot(tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    """The bot with one small fixture playbook, so tests don't depend on content wording."""
    settings = Settings(
        allow_anonymous=True,
        data_dir=tmp_path,
        playbooks_dir=FIXTURE_PLAYBOOKS,
        graph_sandbox_embedded=False,
        _env_file=None,
    )
    async for running in start_bot(settings):
        yield running
