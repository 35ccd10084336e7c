"""Fixtures: the mail protection use case wired to the in-process Graph sandbox.

``sandbox`` and ``sent`` are shared with the Graph tests (tests/graph/fixtures.py, loaded
by tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.mail.graph_mailbox import GraphMailbox
from bot.mail.jsonl_log import JsonlEmailEvidenceLog
from graph.mailbox import GraphMailboxClient
from graph.sandbox import RunningSandbox
from tests.graph.helpers import Sent, make_transport


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
