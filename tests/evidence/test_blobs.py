"""The local content-addressed blob store: write-once, verified on read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot.domain.errors import BlobCorrupted, BlobNotFound, InvalidEvidence
from bot.evidence.blobs import LocalBlobStore, sha256_hex


async def test_put_read_and_write_once(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    sha = await blobs.put(b"hello")
    assert sha == sha256_hex(b"hello")
    assert await blobs.put(b"hello") == sha
    path = blobs.path(sha)
    assert path == tmp_path / sha[:2] / sha[2:4] / sha
    assert not stat.S_IMODE(path.stat().st_mode) & 0o222  # read-only
    assert await blobs.read(sha) == b"hello"
    assert b"".join([c async for c in blobs.chunks(sha)]) == b"hello"
    assert await blobs.exists(sha)
    assert [p.name for p in path.parent.iterdir()] == [sha]  # no temp files left


async def test_corruption_and_absence_are_reported(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    sha = await blobs.put(b"original")
    path = blobs.path(sha)
    os.chmod(path, 0o644)
    path.write_bytes(b"originaL")
    with pytest.raises(BlobCorrupted):
        await blobs.read(sha)
    with pytest.raises(BlobCorrupted):
        await blobs.check(sha)
    missing = sha256_hex(b"missing")
    with pytest.raises(BlobNotFound):
        await blobs.read(missing)
    assert not await blobs.exists(missing)
    with pytest.raises(InvalidEvidence):
        blobs.path("../../etc/passwd")
