"""Export files: own temporary names, atomic publication, stale partials, full disks."""

from __future__ import annotations

import asyncio
import errno
import os
import time
from pathlib import Path

import pytest

from bot.commands.files import describe_os_error
from bot.evidence.export import clean_stale_partials, export_bundle
from bot.evidence.verify import verify_bundle
from tests.store.backends import Backend
from tests.store.test_repository import ALICE


async def test_two_exports_to_one_file_make_one_intact_bundle(
    sqlite_backend: Backend, case_id: str, tmp_path: Path
) -> None:
    out = tmp_path / "bundle.zip"

    async def one() -> object:
        return await export_bundle(
            sqlite_backend.store,
            sqlite_backend.blobs,
            case_id,
            out,
            actor=ALICE,
            clock=sqlite_backend.clock,
        )

    results = await asyncio.gather(one(), one(), return_exceptions=True)
    assert sum(isinstance(r, FileExistsError) for r in results) == 1
    assert verify_bundle(out).ok  # the winner's bundle, whole; the loser wrote nothing
    assert [p.name for p in tmp_path.glob("*bundle.zip*")] == ["bundle.zip"]


async def test_an_existing_file_is_never_replaced(
    sqlite_backend: Backend, case_id: str, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "handed-over.zip"
    out.parent.mkdir()
    out.write_bytes(b"the bundle the police already have")
    with pytest.raises(FileExistsError):
        await export_bundle(
            sqlite_backend.store,
            sqlite_backend.blobs,
            case_id,
            out,
            actor=ALICE,
            clock=sqlite_backend.clock,
        )
    assert out.read_bytes() == b"the bundle the police already have"
    assert [p.name for p in out.parent.iterdir()] == ["handed-over.zip"]


def test_stale_partials_of_killed_exports_are_cleaned(tmp_path: Path) -> None:
    out = tmp_path / "bundle.zip"
    old = tmp_path / ".bundle.zip.0123456789ab.partial"
    legacy = tmp_path / "bundle.zip.partial"
    fresh = tmp_path / ".bundle.zip.fedcba987654.partial"  # an export running right now
    other = tmp_path / ".other.zip.0123456789ab.partial"
    for path in (old, legacy, fresh, other):
        path.write_bytes(b"half a zip")
    two_hours_ago = time.time() - 7200
    for path in (old, legacy, other):
        os.utime(path, (two_hours_ago, two_hours_ago))
    assert clean_stale_partials(out) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, other.name])


def test_os_errors_are_told_in_words() -> None:
    full = OSError(errno.ENOSPC, "No space left on device", "/data/blobs/ab/cd")
    assert describe_os_error(full) == "the disk is full (/data/blobs/ab/cd)"
    assert describe_os_error(PermissionError(errno.EACCES, "x")) == "permission denied"
