"""Fixtures: a client talking real HTTP to the sandbox (``sandbox``: tests/graph/fixtures.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from graph.mailbox import GraphMailboxClient
from graph.sandbox import RunningSandbox
from tests.graph.helpers import Sent, make_transport


@pytest.fixture
async def client(sandbox: RunningSandbox, sent: Sent) -> AsyncIterator[GraphMailboxClient]:
    """A mailbox client over real HTTP to the sandbox."""
    transport = make_transport(sandbox, sent)
    yield GraphMailboxClient(transport)
    await transport.aclose()
