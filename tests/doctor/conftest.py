"""Fixtures: the demo office on the in-process Graph sandbox, settings for it, a migrated SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.store.migrate import upgrade
from graph.sandbox import RunningSandbox, Tenant, make_sandbox, seed_demo, start_sandbox
from graph.sandbox.seed import DEMO_DEPARTMENT_MAILBOX, DEMO_MANAGERS_GROUP_ID
from tests.store.backends import postgres_url

__all__ = ["postgres_url"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No MAMORU_* or Azure variables from the machine running the tests."""
    import os

    for key in list(os.environ):
        if key.startswith("MAMORU_") or key in {
            "DATABASE_URL",
            "WEBSITE_HOSTNAME",
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
        }:
            monkeypatch.delenv(key)
    yield


@pytest.fixture
async def demo_graph() -> AsyncIterator[RunningSandbox]:
    """The demo office (least-privilege app, over-privileged app, outside mailbox)."""
    tenant = Tenant()
    seed_demo(tenant, flood=3)
    running = await start_sandbox(make_sandbox(tenant))
    yield running
    await running.close()


@pytest.fixture
async def database_url(tmp_path: Path) -> str:
    """A SQLite database migrated to head."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'mamoru.db'}"
    await upgrade(url)
    return url


def local_settings(graph: RunningSandbox, database_url: str, **overrides: Any) -> Settings:
    """A correct local setup: anonymous, the sandbox's demo app, managers group, migrated db."""
    values: dict[str, Any] = {
        "allow_anonymous": True,
        "graph_mode": "sandbox",
        "graph_sandbox_embedded": False,
        "graph_sandbox_url": graph.root_url,
        "manager_group_id": DEMO_MANAGERS_GROUP_ID,
        "department_mailbox": DEMO_DEPARTMENT_MAILBOX,
        "database_url": database_url,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
