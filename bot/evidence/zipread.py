"""Reading a ZIP file member by member, its directory streamed, in flat memory.

``zipfile.ZipFile`` reads the whole central directory into a ``ZipInfo`` per member and
a name index (about 660 bytes a member: +66 MB for a 100,000-item bundle), and keeps
only the *last* of two members with the same name. This reader walks the central
directory record by record from disk instead, and opens each member through its own
local header, checked against the directory: same name and method, data where the
previous member ended (no overlapping or hidden data), at most the declared size once
inflated, and the declared CRC. It reads what ``bot.evidence.zipstream`` writes (and any
plain or ZIP64 archive without encryption or multiple disks).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bot.domain.errors import BundleError

_EOCD = struct.Struct("<IHHHHIIH")  # end of central directory record
_ZIP64_LOCATOR = struct.Struct("<IIQI")
_ZIP64_EOCD = struct.Struct("<IQHHIIQQQQ")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_LIMIT16, _LIMIT32 = 0xFFFF, 0xFFFFFFFF
CHUNK = 1 << 20
_UNIX = 3
_S_IFMT, _S_IFLNK, _S_IFDIR = 0o170000, 0o120000, 0o040000


class ZipDamaged(Exception):
    """A member's bytes are not what the directory says (changed inside the ZIP)."""


@dataclass(frozen=True, slots=True)
class Member:
    """One central-directory record, as much as verifying needs."""

    index: int
    name: str
    method: int
    flags: int
    crc: int
    compressed: int
    size: int
    offset: int  # of its local header
    mode: int  # Unix file type and permissions (0 when not made on Unix)

    @property
    def is_symlink(self) -> bool:
        """Whether the member is a symbolic link."""
        return self.mode & _S_IFMT == _S_IFLNK

    @property
    def is_directory(self) -> bool:
        """Whether the member is a directory entry."""
        return self.name.endswith("/") or self.mode & _S_IFMT == _S_IFDIR

    @property
    def is_encrypted(self) -> bool:
        """Whether the member is encrypted (general purpose flag bit 0)."""
        return bool(self.flags & 1)


class ZipReader:
    """A ZIP file on disk, read member by member; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handles: list[BinaryIO] = []
        try:
            handle = self._handle()
            self._size = handle.seek(0, 2)
            self.count, self._directory_offset, self._directory_size = self._end_records(handle)
        except (OSError, struct.error) as exc:
            self.close()
            raise BundleError(f"{path.name} is not a readable ZIP file: {exc}") from None
        except BundleError:
            self.close()
            raise

    def _handle(self) -> BinaryIO:
        handle = self._path.open("rb")
        self._handles.append(handle)
        return handle

    def _not_zip(self, why: str) -> BundleError:
        return BundleError(f"{self._path.name} is not a readable ZIP file: {why}")

    def _end_records(self, handle: BinaryIO) -> tuple[int, int, int]:
        tail_size = min(self._size, _EOCD.size + _LIMIT16)
        handle.seek(self._size - tail_size)
        tail = handle.read(tail_size)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _EOCD.size:
            raise self._not_zip("no end of central directory record")
        _, disk, cd_disk, _, entries, size, offset, _ = _EOCD.unpack_from(tail, at)
        if disk or cd_disk:
            raise self._not_zip("multi-disk archives are not supported")
        if _LIMIT16 in (entries,) or _LIMIT32 in (size, offset):
            eocd_at = self._size - tail_size + at
            if eocd_at < _ZIP64_LOCATOR.size:
                raise self._not_zip("ZIP64 locator missing")
            handle.seek(eocd_at - _ZIP64_LOCATOR.size)
            signature, _, zip64_at, _ = _ZIP64_LOCATOR.unpack(handle.read(_ZIP64_LOCATOR.size))
            if signature != 0x07064B50:
                raise self._not_zip("ZIP64 locator missing")
            handle.seek(zip64_at)
            record = _ZIP64_EOCD.unpack(handle.read(_ZIP64_EOCD.size))
            if record[0] != 0x06064B50:
                raise self._not_zip("ZIP64 end record missing")
            entries, size, offset = record[7], record[8], record[9]
        if offset + size > self._size:
            raise self._not_zip("the central directory lies outside the file")
        return entries, offset, size

    @property
    def directory_offset(self) -> int:
        """Where the central directory starts (the members' data ends there)."""
        return self._directory_offset

    def members(self) -> Iterator[Member]:
        """Every central-directory record in order, read from disk as it goes."""
        handle = self._handle()
        handle.seek(self._directory_offset)
        end = self._directory_offset + self._directory_size
        position = self._directory_offset
        for index in range(self.count):
            raw = handle.read(_CENTRAL.size)
            if len(raw) < _CENTRAL.size or position + _CENTRAL.size > end:
                raise self._not_zip("the central directory is truncated")
            (signature, made_by, _, flags, method, _, _, crc, compressed, size, name_len,
             extra_len, comment_len, _, _, external, offset) = _CENTRAL.unpack(raw)  # fmt: skip
            if signature != 0x02014B50:
                raise self._not_zip("a central directory record is malformed")
            name_bytes = handle.read(name_len)
            extra = handle.read(extra_len)
            handle.seek(comment_len, 1)
            position += _CENTRAL.size + name_len + extra_len + comment_len
            compressed, size, offset = _zip64(extra, compressed, size, offset)
            try:
                name = name_bytes.decode("utf-8" if flags & 0x0800 else "cp437")
            except UnicodeDecodeError:
                name = name_bytes.decode("utf-8", errors="replace")
            mode = (external >> 16) if made_by >> 8 == _UNIX else 0
            yield Member(index, name, method, flags, crc, compressed, size, offset, mode)

    def data_span(self, member: Member) -> tuple[int, int]:
        """(start, end) of the member's stored bytes, after checking its local header."""
        handle = self._handles[0]
        handle.seek(member.offset)
        raw = handle.read(_LOCAL.size)
        if len(raw) < _LOCAL.size:
            raise ZipDamaged(f"{member.name}: its local header is missing")
        signature, _, _, method, _, _, _, _, _, name_len, extra_len = _LOCAL.unpack(raw)
        name_bytes = handle.read(name_len)
        if signature != 0x04034B50 or method != member.method:
            raise ZipDamaged(f"{member.name}: its local header differs from the directory")
        if (
            name_bytes.decode("utf-8", errors="replace") != member.name
            and name_bytes.decode("cp437") != member.name
        ):
            raise ZipDamaged(f"{member.name}: its local header names another file")
        start = member.offset + _LOCAL.size + name_len + extra_len
        end = start + member.compressed
        if end > self._directory_offset:
            raise ZipDamaged(f"{member.name}: its data runs into the central directory")
        return start, end

    def read(self, member: Member) -> Iterator[bytes]:
        """The member's bytes, inflated in chunks; ``ZipDamaged`` if they are not as declared.

        Never inflates more than the declared size (a ZIP bomb stops there).
        """
        start, end = self.data_span(member)
        handle = self._handle()
        try:
            handle.seek(start)
            remaining = end - start
            crc = 0
            produced = 0
            inflater = zlib.decompressobj(-15) if member.method == 8 else None
            if member.method not in (0, 8):
                raise ZipDamaged(f"{member.name}: compression method {member.method}")
            while remaining > 0:
                chunk = handle.read(min(CHUNK, remaining))
                if not chunk:
                    raise ZipDamaged(f"{member.name}: its data is truncated")
                remaining -= len(chunk)
                pieces = [chunk] if inflater is None else _inflate(inflater, chunk, member)
                for piece in pieces:
                    produced += len(piece)
                    if produced > member.size:
                        raise ZipDamaged(f"{member.name}: larger than its declared size")
                    crc = zlib.crc32(piece, crc)
                    yield piece
            if inflater is not None and not inflater.eof:
                raise ZipDamaged(f"{member.name}: its compressed data is incomplete")
            if produced != member.size or crc != member.crc:
                raise ZipDamaged(f"{member.name}: its size or CRC differs from the directory")
        except zlib.error as exc:
            raise ZipDamaged(f"{member.name}: {exc}") from None
        finally:
            handle.close()
            if handle in self._handles:
                self._handles.remove(handle)

    def close(self) -> None:
        """Close every file handle."""
        for handle in self._handles:
            handle.close()
        self._handles.clear()

    def __enter__(self) -> ZipReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _inflate(inflater: zlib._Decompress, chunk: bytes, member: Member) -> Iterator[bytes]:
    # Bounded output per call: a few compressed bytes may inflate to gigabytes.
    data = chunk
    while data:
        piece = inflater.decompress(data, CHUNK)
        if piece:
            yield piece
        data = inflater.unconsumed_tail
        if inflater.eof and (data or inflater.unused_data):
            raise ZipDamaged(f"{member.name}: data after the end of its compressed stream")


def _zip64(extra: bytes, compressed: int, size: int, offset: int) -> tuple[int, int, int]:
    """Sizes and offset from the ZIP64 extra field, where the record says 0xFFFFFFFF."""
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4 : at + 4 + length]
        if tag == 1:
            values = [v for (v,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
            if size == _LIMIT32 and values:
                size = values.pop(0)
            if compressed == _LIMIT32 and values:
                compressed = values.pop(0)
            if offset == _LIMIT32 and values:
                offset = values.pop(0)
        at += 4 + length
    return compressed, size, offset
