"""The live contract suite: Mamoru's Graph calls against a real tenant (docs/graph.md step 5).

Runs only with ``MAMORU_LIVE_GRAPH=1`` and the app settings (``MAMORU_GRAPH_*``,
``MAMORU_LIVE_MAILBOX``, ``MAMORU_DEPARTMENT_MAILBOX``...); otherwise every test here is
skipped. It is not part of CI: the ``live`` marker is not among the markers that CI=true
makes mandatory (tests/conftest.py), so the skip is never turned into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.config import Settings
from bot.mail.graph_mailbox import graph_base_url, token_provider
from graph.mailbox import GraphMailboxClient
from graph.transport import GraphTransport, RetryPolicy

LIVE = os.environ.get("MAMORU_LIVE_GRAPH", "").strip().lower() in {"1", "true", "yes", "on"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this package ``live`` and skip them unless asked for."""
    here = os.path.dirname(__file__)
    skip = pytest.mark.skip(reason="live Graph suite: set MAMORU_LIVE_GRAPH=1 (docs/graph.md)")
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.live)
            if not LIVE:
                item.add_marker(skip)


@dataclass(frozen=True)
class Live:
    """What the suite needs from the environment."""

    settings: Settings
    mailbox: str
    department: str
    outside: str
    run: str  # this run's id: names of what it creates


@pytest.fixture(scope="session")
def live() -> Live:
    """The tenant's settings; a clear failure naming the missing variable."""
    settings = Settings()
    missing = [
        name
        for name, value in (
            ("MAMORU_LIVE_MAILBOX", os.environ.get("MAMORU_LIVE_MAILBOX", "")),
            ("MAMORU_DEPARTMENT_MAILBOX", settings.department_mailbox),
        )
        if not value
    ]
    # Sandbox mode is allowed on purpose: the suite can be tried against `mamoru sandbox`.
    if missing:
        pytest.fail(f"live Graph suite: set {', '.join(missing)}")
    return Live(
        settings=settings,
        mailbox=os.environ["MAMORU_LIVE_MAILBOX"],
        department=settings.department_mailbox,
        outside=os.environ.get("MAMORU_LIVE_OUTSIDE_MAILBOX", ""),
        run=uuid.uuid4().hex[:8],
    )


@pytest.fixture
async def client(live: Live) -> AsyncIterator[GraphMailboxClient]:
    """The bot's own Graph client, signed in as the bot is."""
    transport = GraphTransport(
        graph_base_url(live.settings),
        token_provider(live.settings),
        retry=RetryPolicy(max_total_seconds=120.0),
    )
    yield GraphMailboxClient(transport)
    await transport.aclose()
