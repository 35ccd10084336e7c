"""Fixtures: the mail protection use case wired to the in-process Graph sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.mail.graph_mailbox import GraphMailbox
from bot.mail.jsonl_log import JsonlEmailEvidenceLog
from graph.mailbox import GraphMailboxClient
from graph.sandbox import Limits, RunningSandbox, make_sandbox, start_sandbox
from tests.graph.helpers import Sent, make_transport, new_tenant


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    """A sandbox with Graph's limits (window scaled down) serving on a free port."""
    sb = make_sandbox(new_tenant(), Limits(requests_per_window=100_000, window_seconds=60))
    running = await start_sandbox(sb)
    yield running
    await running.close()


@pytest.fixture
def sent() -> Sent:
    """Requests recorded at the client transport."""
    return Sent()


@pytest.fixture
async def mailbox(sandbox: RunningSandbox, sent: Sent) -> AsyncIterator[GraphMailbox]:
    """The Mailbox port over real HTTP to the sandbox."""
    transport = make_transport(sandbox, sent)
    yield GraphMailbox(GraphMailboxClient(transport))
    await transport.aclose()


@pytest.fixture
def evidence(tmp_path: Path) -> JsonlEmailEvidenceLog:
    """A JSON Lines evidence log in a temporary data dir."""
    return JsonlEmailEvidenceLog(tmp_path)
