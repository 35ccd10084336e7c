"""Anchors outside the database: truncation and rewrite by the database owner are caught.

Every test runs on SQLite and PostgreSQL; the attacker works as the database owner
(``tamper`` drops the append-only trigger first), keeping the chain self-consistent:
the shortened or rewritten chain verifies on its own, and only its anchor shows it.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.commands import evidence as commands
from bot.domain.evidence import ChainAnchor, NoteItem, seal
from bot.evidence.anchors import Anchoring, LocalAnchorStore
from bot.evidence.blobs import LocalBlobStore
from bot.evidence.verify import verify_case
from bot.store.sql import SqlStore
from tests.evidence.conftest import fill_case
from tests.store.backends import Backend, FakeClock, make_backend, postgres_url, tamper
from tests.store.conftest import SQL_BACKENDS
from tests.store.test_repository import ALICE

__all__ = ["postgres_url"]  # the session's PostgreSQL database (a fixture)


@pytest.fixture(params=SQL_BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """A fresh SQL store (SQLite, PostgreSQL)."""
    async for b in make_backend(request.param, tmp_path, request):
        yield b


@pytest.fixture
def anchors(tmp_path: Path) -> LocalAnchorStore:
    """Anchors next to the blobs, as in the default setup."""
    return LocalAnchorStore(tmp_path / "anchors")


async def delete_last_entry(backend: Backend, case_id: str) -> None:
    """What the issue describes: delete the last row, set the head back one entry."""
    head = await backend.store.evidence_head(case_id)
    previous = [e async for e in backend.store.iter_evidence(case_id)][-2]
    await tamper(
        backend,
        "DELETE FROM evidence WHERE case_id = :case AND seq = :seq;"
        "UPDATE evidence_heads SET count = :count, hash = :hash WHERE case_id = :case",
        case=case_id,
        seq=head.count,
        count=previous.seq,
        hash=previous.hash,
    )


async def test_deleted_last_entry_is_caught_by_the_anchor(
    backend: Backend, anchors: LocalAnchorStore
) -> None:
    case_id = await fill_case(backend, mails=3)
    run = await Anchoring(backend.store, anchors, backend.clock).anchor_all()
    assert run.written == 1
    anchored = await anchors.latest_anchor(case_id)
    assert anchored is not None and anchored.head == await backend.store.evidence_head(case_id)
    assert (await verify_case(backend.store, backend.blobs, case_id, anchors)).ok

    await delete_last_entry(backend, case_id)
    # The database alone is consistent again: that is the attack.
    assert (await verify_case(backend.store, backend.blobs, case_id)).ok
    result = await verify_case(backend.store, backend.blobs, case_id, anchors)
    assert not result.ok
    assert result.problem is not None and "truncation" in result.problem
    assert f"entry {anchored.head.count}" in result.problem

    # Anchoring never blesses the shortened chain: the anchor stays, the case is reported.
    again = await Anchoring(backend.store, anchors, backend.clock).anchor_all()
    assert again.behind == [case_id] and again.written == 0
    assert await anchors.latest_anchor(case_id) == anchored


async def test_rewritten_chain_is_caught_by_the_anchor(
    backend: Backend, anchors: LocalAnchorStore
) -> None:
    case_id = await fill_case(backend, mails=2)
    await Anchoring(backend.store, anchors, backend.clock).anchor_all()
    entries = [e async for e in backend.store.iter_evidence(case_id)]
    last = entries[-1]
    # A different last entry, correctly chained and hashed: only the anchor knows better.
    forged = seal(
        case_id=case_id,
        seq=last.seq,
        prev_hash=last.prev_hash,
        recorded_at=backend.clock.now(),
        recorded_by=ALICE,
        item=NoteItem(text="差し替えられたメモ"),
    )
    await tamper(
        backend,
        "DELETE FROM evidence WHERE case_id = :case AND seq = :seq;"
        "INSERT INTO evidence (case_id, seq, kind, dedup_key, entry, prev_hash, hash) "
        "VALUES (:case, :seq, :kind, NULL, :entry, :prev, :hash);"
        "UPDATE evidence_heads SET hash = :hash WHERE case_id = :case",
        case=case_id,
        seq=forged.seq,
        kind=forged.kind,
        entry=forged.entry,
        prev=forged.prev_hash,
        hash=forged.hash,
    )
    assert (await verify_case(backend.store, backend.blobs, case_id)).ok
    result = await verify_case(backend.store, backend.blobs, case_id, anchors)
    assert result.problem is not None and "rewritten" in result.problem
    # Appending after the rewrite does not hide it.
    await backend.store.append_evidence(case_id, NoteItem(text="追記"), recorded_by=ALICE)
    result = await verify_case(backend.store, backend.blobs, case_id, anchors)
    assert result.problem is not None and "rewritten" in result.problem


async def test_anchors_follow_the_chain_and_are_never_replaced(
    backend: Backend, anchors: LocalAnchorStore
) -> None:
    case_id = await fill_case(backend, mails=1)
    anchoring = Anchoring(backend.store, anchors, backend.clock)
    first = await anchoring.anchor_all()
    assert (first.written, first.unchanged) == (1, 0)
    assert (await anchoring.anchor_all()).unchanged == 1  # nothing new: nothing written
    await backend.store.append_evidence(case_id, NoteItem(text="メモ"), recorded_by=ALICE)
    backend.clock.advance(minutes=5)
    assert (await anchoring.anchor_all()).written == 1
    latest = await anchors.latest_anchor(case_id)
    assert latest is not None and latest.head == await backend.store.evidence_head(case_id)
    files = sorted((anchors.root / case_id).iterdir())
    assert len(files) == 2 and all(not f.stat().st_mode & 0o222 for f in files)  # read-only
    # A fresh process (empty memory) reads the latest anchor instead of rewriting it.
    assert (await Anchoring(backend.store, anchors, backend.clock).anchor_all()).unchanged == 1
    older = ChainAnchor.from_json(files[-1].read_bytes())
    await anchors.put_anchor(ChainAnchor(case_id, older.head, backend.clock.now()))
    assert ChainAnchor.from_json(files[-1].read_bytes()) == older  # write-once


async def test_a_case_deleted_from_the_database_is_caught(
    backend: Backend, anchors: LocalAnchorStore
) -> None:
    case_id = await fill_case(backend, mails=1)
    await Anchoring(backend.store, anchors, backend.clock).anchor_all()
    await tamper(
        backend,
        "DELETE FROM evidence WHERE case_id = :case;"
        "DELETE FROM evidence_heads WHERE case_id = :case",
        case=case_id,
    )
    result = await verify_case(backend.store, backend.blobs, case_id, anchors)
    assert result.problem is not None and "gone" in result.problem


# --- the command, default (local) setup


def run(*argv: str) -> int:
    """Parse and run like ``mamoru`` does."""
    parser = argparse.ArgumentParser(prog="mamoru")
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return int(args.handler(args))


def test_cli_verify_detects_a_deleted_last_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "MAMORU_DATABASE_URL", "MAMORU_EVIDENCE_CONTAINER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("MAMORU_EVIDENCE_CONNECTION_STRING", raising=False)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("MAMORU_DATA_DIR", str(data_dir))
    assert run("db", "upgrade") == 0
    url = f"sqlite+aiosqlite:///{(data_dir / 'mamoru.db').resolve()}"

    async def seed() -> str:
        blobs = LocalBlobStore(data_dir / "blobs")
        store = SqlStore.from_url(url, blobs=blobs, clock=FakeClock())
        try:
            return await fill_case(Backend("sqlite", store, FakeClock(), blobs), mails=2)
        finally:
            await store.close()

    case_id = asyncio.run(seed())
    assert run("evidence", "verify", case_id) == 0
    assert "no anchor outside the database yet" in capsys.readouterr().out
    assert run("evidence", "anchor") == 0
    assert "1 written" in capsys.readouterr().out
    assert run("evidence", "verify", case_id) == 0
    assert "matches the anchor outside the database: entry 4" in capsys.readouterr().out

    async def attack() -> None:
        blobs = LocalBlobStore(data_dir / "blobs")
        store = SqlStore.from_url(url, blobs=blobs, clock=FakeClock())
        try:
            await delete_last_entry(Backend("sqlite", store, FakeClock(), blobs), case_id)
        finally:
            await store.close()

    asyncio.run(attack())
    assert run("evidence", "verify", case_id) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "truncation" in err and "entry 4" in err
    assert run("evidence", "anchor") == 1  # reported, not re-anchored
    assert case_id in capsys.readouterr().err
