"""``mamoru evidence verify|export`` and ``mamoru db upgrade``: exit codes and messages."""

from __future__ import annotations

import argparse
import asyncio
import zipfile
from pathlib import Path

import pytest

from bot.commands import evidence as commands
from bot.evidence.blobs import LocalBlobStore
from bot.store.sql import SqlStore
from tests.evidence.conftest import fill_case
from tests.store.backends import Backend, FakeClock


def run(*argv: str) -> int:
    """Parse and run like ``mamoru`` does."""
    parser = argparse.ArgumentParser(prog="mamoru")
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return int(args.handler(args))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory the CLI's Settings point at (SQLite)."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("MAMORU_DATABASE_URL", raising=False)
    monkeypatch.setenv("MAMORU_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def seeded(data_dir: Path) -> str:
    """Create a filled case in the data directory's database."""
    assert run("db", "upgrade") == 0

    async def seed() -> str:
        url = f"sqlite+aiosqlite:///{(data_dir / 'mamoru.db').resolve()}"
        blobs = LocalBlobStore(data_dir / "blobs")
        store = SqlStore.from_url(url, blobs=blobs, clock=FakeClock())
        try:
            return await fill_case(Backend("sqlite", store, FakeClock(), blobs))
        finally:
            await store.close()

    return asyncio.run(seed())


def test_verify_export_and_bundle(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case_id = seeded(data_dir)
    assert run("evidence", "verify", case_id) == 0
    assert "OK: KH-2026-0001: 7 entries and 7 files verified" in capsys.readouterr().out
    out = data_dir.parent / "case.zip"
    assert run("evidence", "export", case_id, "--out", str(out)) == 0
    assert run("evidence", "verify", "--bundle", str(out)) == 0
    assert run("evidence", "export", case_id, "--out", str(out)) == 2  # never overwritten
    altered = data_dir.parent / "altered.zip"
    with zipfile.ZipFile(out) as zin, zipfile.ZipFile(altered, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, b"Y" + data[1:] if info.filename == "mail/000002.eml" else data)
    capsys.readouterr()
    assert run("evidence", "verify", "--bundle", str(altered)) == 1
    assert "FAILED" in capsys.readouterr().err


def test_bad_input(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeded(data_dir)
    assert run("evidence", "verify", "KH-2026-0404") == 2
    assert "unknown incident: KH-2026-0404" in capsys.readouterr().err
    assert run("evidence", "verify", "case-1") == 2
    assert "not an incident id" in capsys.readouterr().err
    assert run("evidence", "verify") == 2
    assert run("evidence", "export", "KH-2026-0404", "--out", "x.zip") == 2
    assert run("evidence", "export", "KH-2026-0001", "--out", "x.txt") == 2
    assert run("evidence", "verify", "--bundle", "missing.zip") == 2
    Path("junk.zip").write_bytes(b"junk")
    assert run("evidence", "verify", "--bundle", "junk.zip") == 2
    assert "not a readable ZIP" in capsys.readouterr().err


def test_unreachable_database(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert run("evidence", "verify", "KH-2026-0001") == 2
    assert "database unavailable" in capsys.readouterr().err
