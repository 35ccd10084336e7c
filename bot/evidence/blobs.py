"""Content-addressed, write-once file storage for evidence (.eml files, screenshots).

``LocalBlobStore`` keeps each file at ``root/ab/cd/<sha256>``, read-only, and checks the
hash every time it is read. In Azure the same ``BlobStore`` port is an immutable (WORM)
Blob container (``bot/evidence/azure_blobs.py``): put = upload if absent, key = SHA-256.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from bot.domain.errors import BlobCorrupted, BlobNotFound, InvalidEvidence

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def validate_sha(sha256: str) -> str:
    """``sha256`` if it is 64 lowercase hex characters (a blob's name), else ``InvalidEvidence``."""
    if not _SHA_RE.match(sha256):
        raise InvalidEvidence("a SHA-256 must be 64 lowercase hex characters")
    return sha256


class LocalBlobStore:
    """``BlobStore`` in a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where the file with this SHA-256 lives."""
        validate_sha(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def _put(self, data: bytes) -> str:
        digest = sha256_hex(data)
        target = self.path(digest)
        if target.exists():
            return digest  # write-once: same content, same name; never overwritten
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o444)
            # link() fails if the name exists, so a concurrent writer never replaces a file.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, target)
        finally:
            os.unlink(tmp)
        return digest

    async def put(self, data: bytes) -> str:
        """Store ``data`` (no-op if present) and return its SHA-256."""
        return await asyncio.to_thread(self._put, data)

    def _read(self, sha256: str) -> bytes:
        try:
            data = self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None
        actual = sha256_hex(data)
        if actual != sha256:
            raise BlobCorrupted(sha256, actual)
        return data

    async def read(self, sha256: str) -> bytes:
        """The bytes, verified against the name."""
        return await asyncio.to_thread(self._read, sha256)

    async def chunks(self, sha256: str) -> AsyncIterator[bytes]:
        """The bytes in 1 MiB chunks; ``BlobCorrupted`` after the last one if they don't match."""
        digest = hashlib.sha256()
        try:
            handle = self.path(sha256).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None
        with handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                yield chunk
        if digest.hexdigest() != sha256:
            raise BlobCorrupted(sha256, digest.hexdigest())

    async def exists(self, sha256: str) -> bool:
        """Whether a file with this SHA-256 is stored."""
        return self.path(sha256).is_file()

    async def check(self, sha256: str) -> None:
        """Raise ``BlobNotFound`` or ``BlobCorrupted`` unless the file is intact."""
        async for _ in self.chunks(sha256):
            pass
