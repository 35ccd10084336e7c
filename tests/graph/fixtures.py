"""Shared fixtures (loaded by tests/conftest.py): a Graph sandbox and a request recorder.

Used by the Graph client tests and the mail protection tests alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from graph.sandbox import Limits, RunningSandbox, make_sandbox, start_sandbox
from tests.graph.helpers import Sent, new_tenant


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
