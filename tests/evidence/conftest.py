"""Fixtures for evidence tests: a SQLite-backed store with a case holding mail and a post."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.evidence import Screenshot, SnsPostItem
from tests.store.backends import Backend, make_backend
from tests.store.test_repository import ALICE, draft, email


@pytest.fixture
async def sqlite_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """A fresh SQLite store."""
    async for b in make_backend("sqlite", tmp_path, request):
        yield b


async def fill_case(backend: Backend, mails: int = 5) -> str:
    """A case with a statement, ``mails`` emails and one SNS post with two screenshots."""
    incident = await backend.store.create_incident(draft(), idempotency_key="case")
    for n in range(mails):
        item, eml = email(n)
        await backend.store.record_email(incident.id, item, eml)
    shots = []
    for i, name in enumerate(("post.png", "../evil name.png")):
        sha = await backend.blobs.put(f"PNG {i}".encode())
        shots.append(Screenshot(sha, name))
    post = SnsPostItem(
        url="https://sns.example/p/1",
        platform="X",
        account="@troll",
        captured_at=dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC),
        posted_at=dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC),
        text="=中傷の投稿",
        screenshots=tuple(shots),
    )
    await backend.store.append_evidence(incident.id, post, recorded_by=ALICE)
    return incident.id


@pytest.fixture
async def case_id(sqlite_backend: Backend) -> str:
    """The id of a filled case in ``sqlite_backend``."""
    return await fill_case(sqlite_backend)
