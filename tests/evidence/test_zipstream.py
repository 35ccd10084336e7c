"""The flat-memory ZIP writer: readable by zipfile and unzip, ZIP64 records included."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from bot.evidence import zipstream
from bot.evidence.zipstream import ZipStreamWriter

FILES = {"a.txt": b"hello " * 1000, "dir/b.eml": b"", "日本語.txt": "本文".encode() * 50}


def write(path: Path) -> None:
    """A ZIP with FILES, the .eml stored, the rest deflated."""
    with path.open("wb") as handle:
        zw = ZipStreamWriter(handle, (2026, 11, 23, 10, 30, 15))
        for name, data in FILES.items():
            with zw.open(name, compress=not name.endswith(".eml")) as member:
                for i in range(0, len(data), 700):
                    member.write(data[i : i + 700])
        zw.close()


@pytest.mark.parametrize("zip64", [False, True], ids=["plain", "zip64"])
def test_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zip64: bool) -> None:
    if zip64:  # every offset and the entry count take the ZIP64 path
        monkeypatch.setattr(zipstream, "ZIP64_ENTRIES", 1)
        monkeypatch.setattr(zipstream, "ZIP64_OFFSET", 0)
    path = tmp_path / "t.zip"
    write(path)
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert {i.filename: zf.read(i) for i in zf.infolist()} == FILES
        info = zf.getinfo("a.txt")
        assert info.compress_type == zipfile.ZIP_DEFLATED and info.date_time[:5] == (
            2026, 11, 23, 10, 30,
        )  # fmt: skip
        assert zf.getinfo("dir/b.eml").compress_type == zipfile.ZIP_STORED
    if shutil.which("unzip"):
        run = subprocess.run(["unzip", "-t", str(path)], capture_output=True, check=False)
        assert run.returncode == 0, run.stdout
