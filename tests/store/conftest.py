"""Fixtures of the repository suite: every test runs on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.store.backends import Backend, make_backend, postgres_url

__all__ = ["postgres_url"]

BACKENDS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
SQL_BACKENDS = [p for p in BACKENDS if p.values[0] != "memory"]


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """A fresh store of each kind."""
    async for b in make_backend(request.param, tmp_path, request):
        yield b


@pytest.fixture(params=SQL_BACKENDS)
async def sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """A fresh SQL store (SQLite and PostgreSQL), for persistence and tamper tests."""
    async for b in make_backend(request.param, tmp_path, request):
        yield b
