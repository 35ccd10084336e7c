"""Fixtures: an in-process Graph sandbox and a client talking real HTTP to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

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
    """The client-side request recorder."""
    return Sent()


@pytest.fixture
async def client(sandbox: RunningSandbox, sent: Sent) -> AsyncIterator[GraphMailboxClient]:
    """A mailbox client over real HTTP to the sandbox."""
    transport = make_transport(sandbox, sent)
    yield GraphMailboxClient(transport)
    await transport.aclose()
