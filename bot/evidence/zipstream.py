"""A ZIP writer whose memory does not grow with the number of files.

``zipfile.ZipFile`` keeps a ``ZipInfo`` (~370 bytes) per member until it writes the
central directory at the end: 37 MB for a 100,000-mail case. This writer spools each
central-directory record to a temporary file as soon as its member is written and
copies them at the end, so an export's memory stays flat. The output must be seekable
(each local header's CRC and sizes are filled in after the data, so no data
descriptors are needed). ZIP64 records are added when there are more than 65,534
entries or offsets pass 4 GiB; a single member must stay under 4 GiB.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from bot.domain.errors import BundleError

_LIMIT32 = 0xFFFFFFFF
_LIMIT16 = 0xFFFF
# When ZIP64 records start (module-level so a test can lower them).
ZIP64_ENTRIES = _LIMIT16
ZIP64_OFFSET = _LIMIT32
_UTF8 = 0x0800  # general purpose flag: names are UTF-8
_VERSION = 45  # 4.5: ZIP64
_MADE_BY = (3 << 8) | _VERSION  # Unix
_READ_ONLY_FILE = 0o100444 << 16


class _Member:
    """One member being written: deflates (or stores), counts and CRCs on the way."""

    def __init__(self, out: BinaryIO, compress: bool) -> None:
        self._out = out
        self._zip = zlib.compressobj(6, zlib.DEFLATED, -15) if compress else None
        self.crc = 0
        self.size = 0
        self.compressed = 0

    def write(self, data: bytes) -> None:
        """Append ``data`` to the member."""
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        chunk = self._zip.compress(data) if self._zip else data
        self._out.write(chunk)
        self.compressed += len(chunk)

    def finish(self) -> None:
        """Flush the compressor."""
        if self._zip:
            tail = self._zip.flush()
            self._out.write(tail)
            self.compressed += len(tail)


class ZipStreamWriter:
    """Writes a ZIP file member by member into a seekable binary file."""

    def __init__(self, out: BinaryIO, date_time: tuple[int, ...]) -> None:
        self._out = out
        year, month, day, hour, minute, second = date_time[:6]
        self._date = ((year - 1980) << 9) | (month << 5) | day
        self._time = (hour << 11) | (minute << 5) | (second // 2)
        # The central directory, on disk; it lives as long as the writer, hence no `with`.
        self._directory = tempfile.TemporaryFile()  # noqa: SIM115
        self._entries = 0

    @contextmanager
    def open(self, name: str, *, compress: bool = True) -> Iterator[_Member]:
        """Write one member; the caller writes its bytes to the yielded object."""
        encoded = name.encode("utf-8")
        method = 8 if compress else 0
        offset = self._out.tell()
        # CRC and sizes (offset 14) are written once the data is known.
        local = (0x04034B50, _VERSION, _UTF8, method, self._time, self._date, 0, 0, 0,
                 len(encoded), 0)  # fmt: skip
        self._out.write(struct.pack("<IHHHHHIIIHH", *local) + encoded)
        member = _Member(self._out, compress)
        yield member
        member.finish()
        if member.size >= _LIMIT32 or member.compressed >= _LIMIT32:
            raise BundleError(f"{name} is larger than 4 GiB, which this bundle format cannot hold")
        end = self._out.tell()
        self._out.seek(offset + 14)
        self._out.write(struct.pack("<III", member.crc, member.compressed, member.size))
        self._out.seek(end)
        extra = b""
        stored_offset = offset
        if offset >= ZIP64_OFFSET:
            extra = struct.pack("<HHQ", 1, 8, offset)
            stored_offset = _LIMIT32
        central = (0x02014B50, _MADE_BY, _VERSION, _UTF8, method, self._time, self._date,
                   member.crc, member.compressed, member.size, len(encoded), len(extra), 0, 0, 0,
                   _READ_ONLY_FILE, stored_offset)  # fmt: skip
        self._directory.write(struct.pack("<IHHHHHHIIIHHHHHII", *central) + encoded + extra)
        self._entries += 1

    def close(self) -> None:
        """Write the central directory and the end records."""
        start = self._out.tell()
        self._directory.seek(0)
        shutil.copyfileobj(self._directory, self._out, 1 << 20)
        self._directory.close()
        size = self._out.tell() - start
        entries = self._entries
        if entries >= ZIP64_ENTRIES or start >= ZIP64_OFFSET or size >= ZIP64_OFFSET:
            zip64_end = self._out.tell()
            record = (0x06064B50, 44, _MADE_BY, _VERSION, 0, 0, entries, entries, size, start)
            self._out.write(struct.pack("<IQHHIIQQQQ", *record))
            self._out.write(struct.pack("<IIQI", 0x07064B50, 0, zip64_end, 1))
            entries, size, start = min(entries, _LIMIT16), min(size, _LIMIT32), _LIMIT32
        self._out.write(
            struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, size, start, 0)
        )
