"""Registry merges: set some fields of a record, keep the others, atomically, on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.store.registry import MemoryRegistry, SqlRegistry
from bot.store.sql import SqlStore
from tests.store.backends import Backend, registries_as_instances


@pytest.fixture
async def registry(backend: Backend) -> AsyncIterator[MemoryRegistry | SqlRegistry]:
    if not isinstance(backend.store, SqlStore):
        yield MemoryRegistry()
        return
    sql = SqlRegistry(backend.store._engines)
    yield sql


async def test_a_merge_sets_its_fields_and_keeps_the_others(
    registry: MemoryRegistry | SqlRegistry,
) -> None:
    await registry.merge_many("user", {"oid-1": {"teams_id": "29:a", "name": "田中"}})
    assert await registry.get("user", "oid-1") == {"teams_id": "29:a", "name": "田中"}
    reference = {"conversation": {"id": "a:1"}, "locale": "ja", "serviceUrl": "https://x"}
    await registry.merge_many(
        "user", {"oid-1": {"reference": reference}, "oid-2": {"name": "鈴木"}}
    )
    # A nested object is replaced whole, never merged key by key with the old one.
    await registry.merge_many("user", {"oid-1": {"reference": {"conversation": {"id": "a:2"}}}})
    assert await registry.get_many("user", ["oid-1", "oid-2"]) == {
        "oid-1": {"teams_id": "29:a", "name": "田中", "reference": {"conversation": {"id": "a:2"}}},
        "oid-2": {"name": "鈴木"},
    }


async def test_merges_of_different_fields_from_two_instances_at_once_keep_both(
    sql_backend: Backend,
) -> None:
    """Two pools (two instances) write one person's record at the same moment, many times."""
    async with registries_as_instances(sql_backend, 2) as (chat, channel):
        for n in range(20):
            await asyncio.gather(
                chat.merge_many(
                    "user", {f"oid-{n}": {"reference": {"conversation": {"id": f"a:{n}"}}}}
                ),
                channel.merge_many("user", {f"oid-{n}": {"teams_id": f"29:{n}"}}),
            )
        saved = await chat.all("user")
        assert len(saved) == 20
        assert all(
            v == {"reference": {"conversation": {"id": f"a:{n}"}}, "teams_id": f"29:{n}"}
            for n, v in ((int(k.split("-")[1]), v) for k, v in saved.items())
        )
